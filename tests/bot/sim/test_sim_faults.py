"""Fault spec parsing and determinism."""

from __future__ import annotations

import pytest

from bot.sim.faults import FaultInjector, FaultSpec, FaultSpecError


def test_parse_spec() -> None:
    spec = FaultSpec.parse("ws_drop=0.01, http500=0.2,latency_ms=15,hang_s=3")
    assert (spec.ws_drop, spec.http500, spec.latency_ms, spec.hang_s) == (0.01, 0.2, 15, 3)
    assert spec.http429 == 0 and FaultSpec.parse("") == FaultSpec()


@pytest.mark.parametrize("text", ["bogus=1", "http500", "http500=x", "http500=1.5", "hang_s=-1"])
def test_bad_specs_are_refused_with_the_part_named(text: str) -> None:
    with pytest.raises(FaultSpecError) as exc:
        FaultSpec.parse(text)
    assert text.split("=")[0] in str(exc.value)


def test_same_seed_same_faults_and_kinds_are_independent() -> None:
    a = FaultInjector("http500=0.3,malformed=0.1", seed=7)
    b = FaultInjector("http500=0.3", seed=7)
    seq_a = []
    for _ in range(200):
        seq_a.append(a.fires("http500"))
        a.fires("malformed")  # draws from its own RNG: must not shift http500's sequence
    seq_b = [b.fires("http500") for _ in range(200)]
    assert seq_a == seq_b
    assert 30 < sum(seq_a) < 90  # about 60 of 200
    assert seq_a != [FaultInjector("http500=0.3", seed=8).fires("http500") for _ in range(200)]


def test_force_fires_next_checks() -> None:
    f = FaultInjector(seed=1)
    f.force("reject", 2)
    assert [f.fires("reject") for _ in range(4)] == [True, True, False, False]
    assert f.counts["reject"] == 2
