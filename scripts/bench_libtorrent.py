#!/usr/bin/python3
"""libtorrent over TCP on loopback, for scripts/bench_compare.ts (needs Debian python3-libtorrent).

  bench_libtorrent.py seed FILE TORRENT   create TORRENT for FILE, seed it, print "port N", run
                                          until stdin closes
  bench_libtorrent.py get TORRENT DIR PORT  download into DIR from 127.0.0.1:PORT, print "done S"
                                          (seconds from adding the torrent to every piece
                                          verified) and exit

DHT, local service discovery, UPnP, NAT-PMP and uTP are off; both sessions listen on 127.0.0.1.
"""
import os
import sys
import time

import libtorrent as lt

SETTINGS = {
    "listen_interfaces": "127.0.0.1:0",
    "enable_dht": False,
    "enable_lsd": False,
    "enable_upnp": False,
    "enable_natpmp": False,
    "enable_outgoing_utp": False,
    "enable_incoming_utp": False,
    "alert_mask": 0,
}


def seed(path, torrent_path):
    fs = lt.file_storage()
    lt.add_files(fs, path)
    t = lt.create_torrent(fs)
    lt.set_piece_hashes(t, os.path.dirname(path))
    with open(torrent_path, "wb") as f:
        f.write(lt.bencode(t.generate()))
    s = lt.session({**lt.high_performance_seed(), **SETTINGS})
    p = lt.add_torrent_params()
    p.ti = lt.torrent_info(torrent_path)
    p.save_path = os.path.dirname(path)
    p.flags |= lt.torrent_flags.seed_mode
    s.add_torrent(p)
    print("port", s.listen_port(), flush=True)
    sys.stdin.read()


def get(torrent_path, out_dir, port):
    s = lt.session(SETTINGS)
    p = lt.add_torrent_params()
    p.ti = lt.torrent_info(torrent_path)
    p.save_path = out_dir
    t0 = time.monotonic()
    h = s.add_torrent(p)
    h.connect_peer(("127.0.0.1", int(port)))
    deadline = t0 + 300
    while not h.status().is_seeding:
        if time.monotonic() > deadline:
            print("timeout", flush=True)
            sys.exit(1)
        time.sleep(0.01)
    print("done %.3f" % (time.monotonic() - t0), flush=True)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "seed":
        seed(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 5 and sys.argv[1] == "get":
        get(sys.argv[2], sys.argv[3], sys.argv[4])
    else:
        sys.exit(__doc__)
