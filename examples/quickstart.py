"""Quick start: load a routing document and look at what it says.

Run from the repository root:  python examples/quickstart.py
Offline and deterministic; it makes no network calls.
"""

from __future__ import annotations

from pathlib import Path

from llmroute import InMemoryStatsStore, load_config
from llmroute.testing import FakeClock

CONFIG = Path(__file__).with_name("config.yaml")


def main() -> None:
    config = load_config(CONFIG)
    print(f"{len(config.providers)} providers, {len(config.rules)} rules from {CONFIG.name}\n")
    for rule in config.rules:
        affinity = f", affinity {rule.session_affinity}s" if rule.affinity_enabled else ""
        print(f"rule {rule.uuid!r}: tactic {rule.lb_tactic.type}{affinity}")
        for service in rule.active_services():
            print(f"  {service.service_id}  weight {service.weight}")
        for block in rule.smart_routing:
            targets = ", ".join(str(s.service_id) for s in block.services)
            print(f"  smart: {block.description} -> {targets}")
    print()

    clock = FakeClock()
    stats = InMemoryStatsStore(clock=clock)
    service = config.rules[1].services[0]
    for input_tokens, output_tokens, latency in ((800, 120, 420.0), (1500, 300, 610.0)):
        stats.record_usage(service, input_tokens, output_tokens)
        stats.record_latency(service, latency)
    snap = stats.snapshot(service)
    print(
        f"stats for {snap.service_id}: {snap.request_count} requests, "
        f"{snap.window_tokens_consumed} tokens this window, "
        f"avg latency {snap.avg_latency_ms:.0f} ms"
    )


if __name__ == "__main__":
    main()
