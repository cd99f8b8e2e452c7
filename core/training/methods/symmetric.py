"""Symmetric hashing (Multi-FusNet, DPSH, HashNet): the database (= train split) is encoded by the network with
the eval transform, through the same function (and so the same float32 precision) as the queries."""

from __future__ import annotations

from collections.abc import Generator

import torch

from core.base.events import Event


class NetworkDatabase:
    """Mixin for a HashingMethod with `model`, `train_records`, `cfg` and `device`: its database codes are
    sign(network(train split)) (n, bits), with Progress("encode database", ...) events while encoding."""

    def database_codes(self) -> torch.Tensor:
        from core.encoding.encode import drain

        return drain(self.encode_database())

    def encode_database(self) -> Generator[Event, None, torch.Tensor]:
        from core.encoding.encode import encode_run_codes

        return (yield from encode_run_codes(self.model, self.train_records, self.cfg, self.device,
                                            phase="encode database"))
