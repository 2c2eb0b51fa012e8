"""inet_http.py DIR: `python3 -m http.server` on 127.0.0.1 and on ::1
(ephemeral ports) serving DIR, fetched with urllib from this process:
a file, a directory listing, a 404, a HEAD and a POST (501), printed so
that the output is the same natively and in the sandbox."""

import os
import subprocess
import sys
import urllib.error
import urllib.request
import zlib

root = sys.argv[1]
os.makedirs(os.path.join(root, "sub"), exist_ok=True)
with open(os.path.join(root, "hello.txt"), "w") as f:
    f.write("hello over TCP\n" * 1000)
with open(os.path.join(root, "sub", "b.bin"), "wb") as f:
    f.write(bytes(range(256)) * 512)


def show(what, resp_or_err, body):
    h = resp_or_err.headers
    print(what, resp_or_err.status, h.get("Content-Type"), h.get("Content-Length"), len(body), "crc %08x" % zlib.crc32(body))


def fetch(base, path, method="GET", data=None):
    req = urllib.request.Request(base + path, method=method, data=data)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            body = r.read()
            show(method + " " + path, r, body)
            return body
    except urllib.error.HTTPError as e:
        body = e.read()
        show(method + " " + path, e, body)
        return body


for bind, host in (("127.0.0.1", "127.0.0.1"), ("::1", "[::1]")):
    srv = subprocess.Popen(
        [sys.executable, "-u", "-m", "http.server", "--bind", bind, "--directory", root, "0"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = srv.stdout.readline()
    port = int(line.split(" port ")[1].split()[0])
    print("serving on", bind, "port set", port > 0)
    base = "http://%s:%d" % (host, port)
    body = fetch(base, "/hello.txt")
    print("file content ok", body == b"hello over TCP\n" * 1000)
    body = fetch(base, "/sub/b.bin")
    print("binary content ok", body == bytes(range(256)) * 512)
    listing = fetch(base, "/")
    print("listing names", [n for n in ("hello.txt", "sub/") if n.encode() in listing])
    fetch(base, "/missing")
    fetch(base, "/hello.txt", method="HEAD")
    fetch(base, "/", method="POST", data=b"x=1")
    srv.terminate()
    srv.wait()
    print("server ended")
