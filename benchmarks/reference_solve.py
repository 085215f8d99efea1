"""A numpy/scipy-only script that answers the question of examples/chat_assistant.toml
(the plan of least lifecycle dollars at Chinchilla's loss under its limits), as the peer
tools' scripts do: the yardstick `bench_solve.py` times `lifeopt solve` against.

Run: python benchmarks/reference_solve.py   (prints N, D and the lifecycle dollars)
"""
import math

import numpy as np
from scipy.optimize import minimize

# Hoffmann et al. 2022, eq. 10 as printed
E, A, B, ALPHA, BETA = 1.69, 406.4, 410.7, 0.34, 0.28
# H100 dense bf16 / fp8 peaks (NVIDIA H100 SXM5 datasheet, sparse figures halved)
BF16, FP8 = 989.4e12, 1978.9e12
PRICE = 2.50                                      # $ per GPU-hour, training and serving
TRAIN_USD_PER_FLOP = PRICE / 3600 / (BF16 * 0.4)
PROMPT, OUTPUT = 1e11 * 800, 1e11 * 200           # tokens served
SERVE_USD_PER_PARAM = 2 * (PROMPT * PRICE / 3600 / (FP8 * 0.5) + OUTPUT * PRICE / 3600 / (FP8 * 0.05))


def loss(x, y):
    return E + A * np.exp(-ALPHA * x) + B * np.exp(-BETA * y)


def main():
    target = loss(math.log(70e9), math.log(1.4e12))
    cost = lambda z: math.log(6 * TRAIN_USD_PER_FLOP * math.exp(z[0] + z[1]) + SERVE_USD_PER_PARAM * math.exp(z[0]))
    limits = [lambda z: target - loss(*z),                                  # the loss target
              lambda z: math.log(70e9) - z[0],                              # at most 70B
              lambda z: math.log(4 * 15e12) - z[1],                         # at most 4 epochs of 15T
              lambda z: math.log(90 * 86400 * 4096 * BF16 * 0.4 / 6) - z[0] - z[1],   # 90 days
              lambda z: math.log(40e6 / (6 * TRAIN_USD_PER_FLOP)) - z[0] - z[1]]      # $40M of training
    res = minimize(cost, [math.log(1e10), math.log(1e12)], method="SLSQP",
                   constraints=[{"type": "ineq", "fun": f} for f in limits],
                   options={"ftol": 1e-15, "maxiter": 1000})
    N, D = math.exp(res.x[0]), math.exp(res.x[1])
    print(f"N {N:.6g}  D {D:.6g}  lifecycle ${math.exp(res.fun):.6g}")


if __name__ == "__main__":
    main()
