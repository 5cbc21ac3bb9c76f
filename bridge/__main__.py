"""`python -m bridge` runs the same command line as `trackops-bridge`."""

from bridge.cli import main

main()
