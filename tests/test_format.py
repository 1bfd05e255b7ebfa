"""Numbers for people: a difference that rounds to zero prints without a minus sign."""
import math

from fairfight._format import signed


def test_signed_never_prints_minus_zero():
    assert signed(-0.0001) == "+0.000"
    assert signed(-0.0) == "+0.000"
    assert signed(0.194) == "+0.194"
    assert signed(-0.0006) == "-0.001"
    assert signed(-0.25, 2) == "-0.25"
    assert signed(math.nan) == signed(None) == signed(True) == "n/a"
