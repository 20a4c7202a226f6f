"""What one run does: room sizes, rate ladders, step length, counts (`--quick` trims them)."""

from __future__ import annotations

from dataclasses import dataclass, field

FANOUT_P99_LIMIT_MS = 100.0
CREATE_P99_LIMIT_MS = 200.0
# Past the knee: deliveries/s at the top overload step must stay within 20 % of the best.
PLATEAU_MIN_RATIO = 0.8


@dataclass
class Params:
    """What one run does; `--quick` trims every ladder."""

    quick: bool
    room_sizes: list[int]
    fanout_rates: dict[int, list[float]]  # room size -> ladder, messages per second
    step_seconds: float
    create_rates: list[int]  # ladder, messages per second over the 100 channels
    create_channels: int = 100
    create_members: int = 10
    connections: list[int] = field(default_factory=list)
    history_rows: int = 100_000
    history_requests: int = 200
    validation_room: int = 100
    metrics_room: int = 100  # the metrics on/off scenario: fan-out's ladder for this room
    postgres: bool = True
    cluster_room: int = 100  # receivers on process B; the ladder is fan-out's room-of-100 one
    # The generator's ceiling: rooms measured against bench/ceiling_server.mjs.
    ceiling_rates: dict[int, list[float]] = field(default_factory=dict)
    memory_sockets: int = 1000  # idle authenticated sockets of the memory probe
    memory_top: int = 15  # allocation sites printed
    workers: list[int] = field(default_factory=lambda: [1, 2])  # message:create on Redis
    # After a ladder stops (two failed steps, or its end), overload steps at these
    # multiples of the knee (the highest rate that passed): the plateau.
    plateau_factors: list[float] = field(default_factory=lambda: [1.5, 2.0, 3.0])

    @classmethod
    def make(cls, quick: bool) -> Params:
        if quick:
            return cls(
                quick=True,
                room_sizes=[10, 100, 1000],
                fanout_rates={10: [100, 400], 100: [10, 40], 1000: [4, 8]},
                step_seconds=1.5,
                create_rates=[50, 200],
                create_channels=30,
                connections=[500],
                history_rows=100_000,
                history_requests=100,
                cluster_room=20,
                ceiling_rates={1000: [10, 40]},
                memory_sockets=300,
                plateau_factors=[3.0],
            )
        return cls(
            quick=False,
            room_sizes=[10, 100, 1000, 5000],
            fanout_rates={
                10: [50, 100, 200, 300, 400, 600, 800, 1200, 1600, 2400, 3200],
                100: [5, 10, 20, 40, 60, 80, 120, 160, 240, 320],
                1000: [1, 2, 4, 8, 12, 16, 24, 32, 48, 64],
                5000: [1, 2, 3, 4, 6, 8, 12, 16],
            },
            step_seconds=4.0,
            create_rates=[50, 100, 200, 300, 400, 600, 800, 1200, 1600],
            connections=[1000, 5000],
            history_rows=1_000_000,
            history_requests=300,
            ceiling_rates={1000: [10, 20, 40, 80, 120], 5000: [2, 4, 8, 16, 24]},
            memory_sockets=1000,
        )
