"""What we read from wrk's output."""

from __future__ import annotations

import pytest

from bench.load import parse_wrk

OUTPUT = """Running 4s test @ http://127.0.0.1:41235/health
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     6.12ms    2.01ms  30.55ms   91.02%
    Req/Sec     2.63k   180.11     2.90k    72.50%
  Latency Distribution
     50%    5.80ms
     75%    6.35ms
     90%    7.20ms
     99%  850.00us
  10512 requests in 4.00s, 1.50MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 4
Requests/sec:   2627.52
Transfer/sec:    383.59KB
"""


def test_figures_are_read_with_their_units() -> None:
    result = parse_wrk(OUTPUT)
    assert result.requests_per_s == 2627.52
    assert result.requests == 10512
    assert result.errors == 7  # 4 non-2xx + 3 socket errors
    assert (result.p50_ms, result.p99_ms) == (5.8, 0.85)


def test_output_without_a_result_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="wrk produced no result"):
        parse_wrk("unable to connect to 127.0.0.1:1 Connection refused")
