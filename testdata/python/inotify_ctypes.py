# inotify through ctypes (tests/inotify_test.go): events of a write, a rename
# and an unlink in DIR, select readiness, inotify_rm_watch and its EINVAL.
import ctypes, os, struct, sys, select
libc = ctypes.CDLL(None, use_errno=True)
d = sys.argv[1]
fd = libc.inotify_init1(os.O_NONBLOCK)
wd = libc.inotify_add_watch(fd, d.encode(), 0xfff)  # IN_ALL_EVENTS
print("wd", wd)
with open(os.path.join(d, "a.txt"), "w") as f:
    f.write("hi")
os.rename(os.path.join(d, "a.txt"), os.path.join(d, "b.txt"))
os.remove(os.path.join(d, "b.txt"))
r, _, _ = select.select([fd], [], [], 5)
print("select ready", r == [fd])
buf = os.read(fd, 4096)
names = {0x1: "ACCESS", 0x2: "MODIFY", 0x4: "ATTRIB", 0x8: "CLOSE_WRITE", 0x10: "CLOSE_NOWRITE", 0x20: "OPEN",
         0x40: "MOVED_FROM", 0x80: "MOVED_TO", 0x100: "CREATE", 0x200: "DELETE", 0x40000000: "ISDIR"}
cookies = set()
i = 0
while i < len(buf):
    w, mask, cookie, n = struct.unpack_from("iIII", buf, i)
    name = buf[i + 16:i + 16 + n].rstrip(b"\0").decode()
    if cookie:
        cookies.add(cookie)
    print(w, "|".join(v for k, v in names.items() if mask & k), name)
    i += 16 + n
print("one cookie", len(cookies) == 1)
print("rm", libc.inotify_rm_watch(fd, wd), "again", libc.inotify_rm_watch(fd, wd), ctypes.get_errno() == 22)
try:
    os.read(fd, 4096)
except BlockingIOError:
    print("EAGAIN")
