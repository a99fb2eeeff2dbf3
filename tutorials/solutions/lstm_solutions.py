"""Reference solutions to the exercises of tutorials/04_exercises.ipynb (kept apart from the stubs)."""
import numpy as np


def sigmoid(x):
    z = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0, z) / (1.0 + z)


def lstm_step_forward(x_t, h_prev, c_prev, params):
    H = h_prev.shape[1]
    a = x_t @ params["W_x"] + h_prev @ params["W_h"] + params["b"]       # (B, 4H)
    f_t = sigmoid(a[:, :H])
    i_t = sigmoid(a[:, H:2 * H])
    c_tilde = np.tanh(a[:, 2 * H:3 * H])
    o_t = sigmoid(a[:, 3 * H:])
    c_t = f_t * c_prev + i_t * c_tilde
    tanh_c = np.tanh(c_t)
    h_t = o_t * tanh_c
    gates = np.concatenate([f_t, i_t, c_tilde, o_t], axis=1)
    return h_t, c_t, (x_t, h_prev, c_prev, gates, tanh_c, params)


def lstm_step_backward(dh_t, dc_t, cache):
    x_t, h_prev, c_prev, gates, tanh_c, params = cache
    H = dh_t.shape[1]
    f_t, i_t, c_tilde, o_t = gates[:, :H], gates[:, H:2 * H], gates[:, 2 * H:3 * H], gates[:, 3 * H:]
    dC = dc_t + dh_t * o_t * (1 - tanh_c ** 2)
    da = np.concatenate([dC * c_prev * f_t * (1 - f_t),          # forget gate
                         dC * c_tilde * i_t * (1 - i_t),         # input gate
                         dC * i_t * (1 - c_tilde ** 2),          # candidate
                         dh_t * tanh_c * o_t * (1 - o_t)], 1)    # output gate
    dparams = {"W_x": x_t.T @ da, "W_h": h_prev.T @ da, "b": da.sum(axis=0)}
    return da @ params["W_x"].T, da @ params["W_h"].T, dC * f_t, dparams


def lstm_backward(dh_seq, dh_T, dc_T, cache):
    x_tm, hs, cs, gates, tanh_c, params = (cache[k] for k in ("x_tm", "hs", "cs", "gates", "tanh_c", "params"))
    T, B, D = x_tm.shape
    dx = np.zeros((B, T, D))
    grads = {k: np.zeros_like(v) for k, v in params.items()}
    dh_next, dc_next = dh_T.copy(), dc_T.copy()
    for t in reversed(range(T)):
        step_cache = (x_tm[t], hs[t], cs[t], gates[t], tanh_c[t], params)
        dx[:, t], dh_next, dc_next, g = lstm_step_backward(dh_seq[:, t] + dh_next, dc_next, step_cache)
        for k in grads:
            grads[k] += g[k]
    return dx, dh_next, dc_next, grads


def clip_grad_norm(grads, max_norm):
    total = float(np.sqrt(sum(float((g * g).sum()) for g in grads.values())))
    scale = max_norm / total if total > max_norm else 1.0
    return {k: g * scale for k, g in grads.items()}, total
