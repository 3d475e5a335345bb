"""Wake-on-LAN listener of the fleet scenario: records every magic packet that reaches UDP port 9.

wol_listen.py LOG   appends "<unix time> <mac>" per valid magic packet (6 x FF + 16 x MAC) to LOG.
"""

import socket
import sys
import time


def main(log):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("0.0.0.0", 9))
    while True:
        data, _peer = sock.recvfrom(1024)
        if len(data) >= 102 and data[:6] == b"\xff" * 6 and data[6:102] == data[6:12] * 16:
            mac = ":".join(f"{b:02x}" for b in data[6:12])
            with open(log, "a", encoding="ascii") as handle:
                handle.write(f"{time.time():.3f} {mac}\n")


if __name__ == "__main__":
    main(sys.argv[1])
