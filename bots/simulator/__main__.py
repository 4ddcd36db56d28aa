"""`python -m bots.simulator`."""

from bots.simulator.server import main

main()
