"""The per-call voice runtime on Pipecat, its engines and the catalog of voices the install speaks.

Pipecat logs through loguru; importing this package routes those logs into the stdlib logger
``callwright.voice.pipecat`` at WARNING and above (see ``pipecat_logs``), before any voice module
imports Pipecat.
"""

from callwright.voice.pipecat_logs import route_pipecat_logs

route_pipecat_logs()
