"""Attack: reach the network below socket.socket, and from a process of its own."""
import _socket
import subprocess
import sys


def lower_names(cities):
    subprocess.run([sys.executable, "-c", "import socket; socket.create_connection(('192.0.2.1', 80), timeout=1)"], check=True)
    raw = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
    raw.settimeout(1)
    raw.connect(("192.0.2.1", 80))
    return [c["name"].lower() for c in cities]
