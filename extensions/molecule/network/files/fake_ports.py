"""fake_ports: accepts TCP connections on the given ports and closes them, so that in the test a
refused connection (nothing listens) and a filtered one (the firewall drops it) differ."""

import selectors
import socket
import sys


def main():
    sel = selectors.DefaultSelector()
    for port in sys.argv[1:]:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", int(port)))
        s.listen(16)
        sel.register(s, selectors.EVENT_READ)
    while True:
        for key, _mask in sel.select():
            conn, _addr = key.fileobj.accept()
            conn.close()


if __name__ == "__main__":
    main()
