"""Reference side of tests/np_random.rs: a fixed script of legacy RandomState draws as JSON.

Each case seeds a RandomState, makes a sequence of calls, and records every value; floats are
written as their IEEE-754 bit patterns so the comparison is exact.
"""
import json
import struct

import numpy as np


def bits(x):
    return struct.unpack("<Q", struct.pack("<d", float(x)))[0]


def script(rs):
    out = []
    out += [["random_sample", bits(v)] for v in rs.random_sample(5)]
    out += [["uniform", bits(v)] for v in rs.uniform(0.0, 3.0, size=(7,))]
    out += [["standard_normal", bits(v)] for v in rs.randn(5)]  # odd: leaves a cached gauss
    out += [["uniform", bits(v)] for v in rs.uniform(-0.1, 0.1, size=3)]
    out += [["standard_normal", bits(rs.standard_normal())]]  # the cached one
    out += [["normal", bits(v)] for v in rs.normal(1.5, 0.01, size=3)]
    for low, high in [(0, 2), (0, 7), (-5, 5), (0, 50), (0, 2**32), (3, 2**40), (0, 1)]:
        out += [[f"randint {low} {high}", int(v)] for v in rs.randint(low, high, size=4)]
    out += [["permutation 10", int(v)] for v in rs.permutation(10)]
    items = list(range(7))
    rs.shuffle(items)
    out += [["shuffle 7", int(v)] for v in items]
    out += [["random_sample", bits(rs.random_sample())]]
    return out


cases = {}
for seed in [0, 1, 1337, 2**32 - 1]:
    cases[f"seed {seed}"] = script(np.random.RandomState(seed))
cases["key [1, 2, 3]"] = script(np.random.RandomState([1, 2, 3]))
cases["key 0..700"] = script(np.random.RandomState(list(range(700))))
print(json.dumps(cases))
