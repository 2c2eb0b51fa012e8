"""AF_UNIX from Python's standard library (issue 12): socketserver,
multiprocessing.connection, fd passing, managers and asyncio over unix
sockets in DIR. Prints the same lines natively and in the sandbox."""

import asyncio
import multiprocessing
import multiprocessing.connection
import multiprocessing.managers
import os
import pathlib
import socket
import socketserver
import sys
import threading

d = sys.argv[1]


class Echo(socketserver.StreamRequestHandler):
    def handle(self):
        line = self.rfile.readline()
        self.wfile.write(b"echo " + line)


def stream_server():
    path = os.path.join(d, "echo.sock")
    with socketserver.ThreadingUnixStreamServer(path, Echo) as srv:
        t = threading.Thread(target=srv.serve_forever)
        t.start()
        print("is_socket", pathlib.Path(path).is_socket())
        for i in range(3):
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
                c.connect(path)
                c.sendall(b"hello %d\n" % i)
                print("socketserver:", c.makefile("rb").readline())
        srv.shutdown()
        t.join()


class DgramEcho(socketserver.BaseRequestHandler):
    def handle(self):
        data, sock = self.request
        sock.sendto(data.upper(), self.client_address)


def dgram_server():
    path = os.path.join(d, "dgram.sock")
    with socketserver.UnixDatagramServer(path, DgramEcho) as srv:
        t = threading.Thread(target=srv.serve_forever)
        t.start()
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as c:
            c.bind(os.path.join(d, "client.sock"))
            c.sendto(b"datagram", path)
            print("datagram server:", c.recvfrom(100)[0])
        srv.shutdown()
        t.join()


def conn_child(address):
    with multiprocessing.connection.Client(address, authkey=b"k") as c:
        c.send({"n": 1, "list": [1, 2, 3]})
        print("child got:", c.recv(), flush=True)


def connection():
    address = os.path.join(d, "mp.sock")
    with multiprocessing.connection.Listener(address, family="AF_UNIX", authkey=b"k") as l:
        p = multiprocessing.Process(target=conn_child, args=(address,))
        p.start()
        with l.accept() as c:
            print("listener got:", c.recv(), flush=True)
            c.send("bye")
        p.join()
        print("child exit", p.exitcode)


def fd_passing():
    a, b = socket.socketpair()
    r, w = os.pipe()
    os.write(w, b"via SCM_RIGHTS")
    os.close(w)
    socket.send_fds(a, [b"fd"], [r])
    os.close(r)
    msg, fds, flags, addr = socket.recv_fds(b, 10, 4)
    print("recv_fds:", msg, len(fds), os.read(fds[0], 100))
    os.close(fds[0])
    a.close()
    b.close()


def manager():
    with multiprocessing.Manager() as m:
        dct = m.dict()
        dct["x"] = 42
        lst = m.list(range(3))
        lst.append(3)
        print("manager:", dict(dct), list(lst))


async def aio():
    path = os.path.join(d, "aio.sock")

    async def handle(reader, writer):
        data = await reader.readline()
        writer.write(data[::-1])
        await writer.drain()
        writer.close()

    srv = await asyncio.start_unix_server(handle, path)
    reader, writer = await asyncio.open_unix_connection(path)
    writer.write(b"olleh\n")
    print("asyncio:", await reader.read())
    writer.close()
    srv.close()
    await srv.wait_closed()


def abstract():
    name = "\0lbt-py-%08x" % os.getpid()
    with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as s:
        s.bind(name)
        s.listen()
        with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as c:
            c.connect(name)
            conn, _ = s.accept()
            c.send(b"one")
            c.send(b"two")
            print("seqpacket:", conn.recv(100), conn.recv(100), len(s.getsockname()))
            print("peercred is self:", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12)[:4]
                  == os.getpid().to_bytes(4, "little"))
            conn.close()


multiprocessing.set_start_method("fork")
stream_server()
dgram_server()
connection()
fd_passing()
manager()
asyncio.run(aio())
abstract()
print("done")
