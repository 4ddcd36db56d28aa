"""GeWe-compatible HTTP simulator with scripted customers, for demos and tests."""

from bots.simulator.app import create_simulator_app
from bots.simulator.server import main, run
from bots.simulator.state import SimulatorConfig, SimulatorState

__all__ = ["SimulatorConfig", "SimulatorState", "create_simulator_app", "main", "run"]
