"""The order of a run (tests/ordering.py) through pytest-xdist's own ``worksteal`` scheduler: every worker starts on
its share of the long tests, longest first, the fast tests come last, the browser's tests go to one worker."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from xdist.scheduler.worksteal import WorkStealingScheduling

from tests.ordering import FAST, LONG, chunk_sizes, estimate, longest_first


@dataclass
class FakeItem:
    nodeid: str
    slow: bool = False
    fixturenames: tuple[str, ...] = ()

    def get_closest_marker(self, name: str) -> object | None:
        return object() if name == "slow" and self.slow else None


@dataclass
class FakeNode:
    """What the scheduler calls on a worker: the items it is sent, in order."""

    name: str
    sent: list[int] = field(default_factory=list)
    shutting_down: bool = False

    @property
    def gateway(self) -> Any:
        return type("Gateway", (), {"id": self.name})()

    def send_runtest_some(self, indices: list[int]) -> None:
        self.sent.extend(indices)

    def __hash__(self) -> int:
        return hash(self.name)


class FakeConfig:
    def __init__(self, workers: int) -> None:
        self.workers = workers

    def getvalue(self, name: str) -> Any:
        assert name == "tx"
        return [f"{self.workers}*popen"]


def collection() -> list[FakeItem]:
    items = [FakeItem(f"tests/test_a.py::test_fast_{i}") for i in range(300)]
    items += [FakeItem(f"tests/test_casebook.py::test_case[cb-{i:02d}]", slow=True) for i in range(60)]
    items += [FakeItem(f"tests/test_web.py::test_page_{i}", slow=True, fixturenames=("browser",)) for i in range(9)]
    items += [FakeItem(nodeid, slow=True) for nodeid in sorted(LONG)]  # the collection's order is the files'
    return items


def first_distribution(items: list[FakeItem], workers: int) -> list[list[FakeItem]]:
    scheduler = WorkStealingScheduling(FakeConfig(workers))
    nodes = [FakeNode(f"gw{i}") for i in range(workers)]
    for node in nodes:
        scheduler.add_node(node)
    for node in nodes:
        scheduler.add_node_collection(node, [i.nodeid for i in items])
    scheduler.schedule()
    return [[items[i] for i in node.sent] for node in nodes]


def test_every_worker_starts_on_its_share_of_the_long_tests_longest_first() -> None:
    items = collection()
    ordered = longest_first(items, 2)
    assert sorted(i.nodeid for i in ordered) == sorted(i.nodeid for i in items)  # a permutation: nothing lost
    queues = first_distribution(ordered, 2)
    assert [len(q) for q in queues] == chunk_sizes(len(items), 2)
    longest = sorted(LONG.values(), reverse=True)
    assert sorted((LONG[q[0].nodeid] for q in queues), reverse=True) == longest[:2]  # the two longest start at once
    for q in queues:
        costs = [estimate(i) for i in q]
        n_long = sum(1 for i in q if i.nodeid in LONG)
        assert costs[:n_long] == sorted(costs[:n_long], reverse=True)  # longest first
        assert all(i.nodeid in LONG for i in q[:n_long])
        assert costs[n_long:] == sorted(costs[n_long:], reverse=True)  # the slow lane's, then the fast ones to steal
    loads = [sum(LONG.get(i.nodeid, 0) for i in q) for q in queues]
    assert abs(loads[0] - loads[1]) <= max(LONG.values())  # the long tests dealt evenly (greedy)
    browser = [n for n, q in enumerate(queues) if any("browser" in i.fixturenames for i in q)]
    assert len(browser) == 1  # one Chromium
    assert queues[0][-1].nodeid.startswith("tests/test_a.py") and estimate(queues[1][-1]) == FAST


def test_the_fast_lane_alone_and_without_xdist() -> None:
    fast = [FakeItem(f"tests/test_a.py::test_fast_{i}") for i in range(7)]
    assert longest_first(fast, 2) == fast[:3] + fast[3:]  # no long test: the collection's order
    items = collection()
    assert [i.nodeid for i in longest_first(items, 1)[:3]] == sorted(LONG, key=lambda n: -LONG[n])[:3]
    three = first_distribution(longest_first(items, 3), 3)
    assert sorted((LONG[q[0].nodeid] for q in three), reverse=True) == sorted(LONG.values(), reverse=True)[:3]
