"""``python -m gateway.standin``: run the stand-in without Django."""

from gateway.standin.cli import main

main()
