"""A Keras DCGAN on scikit-learn's 8x8 digits, trained with `train_on_batch`.

The seed program is the Keras GAN: a generator of Dense, BatchNormalization, LeakyReLU,
Reshape and Conv2DTranspose layers, a discriminator of Conv2D, LeakyReLU and Dropout
layers, and the classic training step: the discriminator learns on a batch of real and
a batch of generated images, then the combined model `gan = Sequential([generator,
discriminator])`, compiled after `discriminator.trainable = False`, teaches the generator
to make the discriminator say "real". Sizes are scaled from 28x28 to the 8x8 digits of
`sklearn.datasets.load_digits` (no download): latent 32 -> 2x2x128 -> 4x4x64 -> 8x8x1.
Two habits of the DCGAN recipes keep it stable: real images are labelled 0.9 for the
discriminator (one-sided label smoothing), and the fakes it learns from are drawn with
`generator(z, training=True)`, the BatchNorm statistics the combined step uses (fakes
from `generator.predict`, in inference mode, collapsed to a few digits in a trial run).

It writes a grid of generated digits after each epoch (the same latent vectors every
time, so the grid shows the digits forming), the grids side by side for a few epochs,
and the two losses per batch.

    pip install "nnkernels[examples]"
    python examples/gan_digits.py --out docs/figures       # default: 60 epochs of 56 steps
    python examples/gan_digits.py --quick                  # seconds (CI)

Measured with the defaults on the 2-core AVX-512 development VM, shared with other jobs (2026-12-01):
60 epochs in 248 s. 1000 samples fall in all 10 digit classes (by the nearest centroid of
the real digits; the largest class holds 17 %), at a mean distance of 3.66 from that centroid
(real digits 3.16, the untrained generator 5.69). Last-epoch losses: discriminator 0.68,
generator 0.81; the discriminator stays near ln 2 = 0.69 all along, so neither side wins
(no divergence, no collapse).
"""
from __future__ import annotations

import argparse
import os
import time

import numpy as np

import nnkernels as nk
from nnkernels.keras import layers, models, optimizers, utils


def load():
    """All 1797 digits as (N, 8, 8, 1) in [-1, 1] (the generator ends in tanh), and labels."""
    from sklearn.datasets import load_digits

    d = load_digits()
    return (d.images / 8.0 - 1.0).astype(np.float32)[..., None], d.target


def build_generator(latent=32, width=64):
    """(N, latent) -> (N, 8, 8, 1) in [-1, 1]."""
    return models.Sequential([
        layers.Input((latent,)),
        layers.Dense(2 * 2 * 2 * width, use_bias=False),
        layers.BatchNormalization(momentum=0.8),
        layers.LeakyReLU(0.2),
        layers.Reshape((2, 2, 2 * width)),                                         # (N, 2, 2, 128)
        layers.Conv2DTranspose(width, 4, strides=2, padding="same", use_bias=False),  # (N, 4, 4, 64)
        layers.BatchNormalization(momentum=0.8),
        layers.LeakyReLU(0.2),
        layers.Conv2DTranspose(1, 4, strides=2, padding="same", activation="tanh"),  # (N, 8, 8, 1)
    ], name="generator")


def build_discriminator(width=32):
    """(N, 8, 8, 1) -> (N, 1), the probability that the image is real."""
    return models.Sequential([
        layers.Input((8, 8, 1)),
        layers.Conv2D(width, 3, strides=2, padding="same"),          # (N, 4, 4, 32)
        layers.LeakyReLU(0.2),
        layers.Dropout(0.3),
        layers.Conv2D(2 * width, 3, strides=2, padding="same"),      # (N, 2, 2, 64)
        layers.LeakyReLU(0.2),
        layers.Dropout(0.3),
        layers.Flatten(),
        layers.Dense(1, activation="sigmoid"),
    ], name="discriminator")


def grid_image(imgs, rows):
    """(n, 8, 8, 1) in [-1, 1] -> one (rows*9-1, cols*9-1) picture with 1-pixel gaps."""
    n = len(imgs)
    cols = -(-n // rows)
    out = np.full((rows * 9 - 1, cols * 9 - 1), 0.15, np.float32)
    for i, im in enumerate(imgs):
        r, c = divmod(i, cols)
        out[r * 9:r * 9 + 8, c * 9:c * 9 + 8] = (im[:, :, 0] + 1) / 2
    return out


def real_vs_fake_stats(x_real, x_fake, labels):
    """A check that does not need eyes: a nearest-centroid classifier fitted on the real
    digits labels each generated one; a good generator covers every class (a collapsed one
    puts everything in a few), and its samples lie about as near to their centroid as real
    ones do."""
    flat = x_real.reshape(len(x_real), -1)
    cent = np.stack([flat[labels == k].mean(0) for k in range(10)])
    f = x_fake.reshape(len(x_fake), -1)
    d_fake = ((f[:, None, :] - cent[None]) ** 2).sum(-1)
    d_real = ((flat[:, None, :] - cent[None]) ** 2).sum(-1)
    classes = d_fake.argmin(1)
    share = np.bincount(classes, minlength=10) / len(classes)
    return {"classes_covered": int((share >= 0.02).sum()), "largest_class_share": float(share.max()),
            "fake_to_centroid": float(np.sqrt(d_fake.min(1)).mean()),
            "real_to_centroid": float(np.sqrt(d_real.min(1)).mean())}


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=60)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--latent", type=int, default=32)
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--real-label", type=float, default=0.9,
                    help="target for real images in the discriminator's loss (one-sided label smoothing)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="3 epochs: seconds, for CI")
    ap.add_argument("--out", default=".", help="folder for the PNGs")
    ap.add_argument("--verbose", type=int, default=1)
    args = ap.parse_args(argv)
    if args.quick:
        args.epochs = 3

    utils.set_random_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    x, labels = load()
    generator, discriminator = build_generator(args.latent), build_discriminator()
    discriminator.compile(optimizer=optimizers.Adam(args.lr, beta_1=0.5), loss="binary_crossentropy",
                          metrics=["accuracy"])
    discriminator.trainable = False        # frozen inside `gan` only: it was compiled before
    gan = models.Sequential([generator, discriminator], name="gan")
    gan.compile(optimizer=optimizers.Adam(args.lr, beta_1=0.5), loss="binary_crossentropy")
    generator.summary()
    discriminator.summary()

    fixed_z = rng.standard_normal((40, args.latent)).astype(np.float32)
    z_eval = rng.standard_normal((1000, args.latent)).astype(np.float32)
    stats0 = real_vs_fake_stats(x, generator.predict(z_eval, verbose=0), labels)
    steps = len(x) // args.batch
    real_y, fake_y = np.ones((args.batch, 1), np.float32), np.zeros((args.batch, 1), np.float32)
    smooth_y = np.full((args.batch, 1), args.real_label, np.float32)
    losses = {"d_loss": [], "g_loss": [], "d_acc": []}
    grids, t0 = [], time.perf_counter()
    print(f"digits: {len(x)} images of 8x8; {steps} steps of {args.batch} per epoch")
    for epoch in range(args.epochs):
        print(f"Epoch {epoch + 1}/{args.epochs}")
        bar = utils.Progbar(steps, verbose=args.verbose)
        order = rng.permutation(len(x))
        for step in range(steps):
            real = x[order[step * args.batch:(step + 1) * args.batch]]
            z = rng.standard_normal((args.batch, args.latent)).astype(np.float32)
            with nk.no_grad():       # training=True: the BatchNorm statistics of this batch, as in gan
                fake = generator(z, training=True).numpy()
            d_real = discriminator.train_on_batch(real, smooth_y)     # [loss, accuracy]
            d_fake = discriminator.train_on_batch(fake, fake_y)
            d_loss, d_acc = 0.5 * (d_real[0] + d_fake[0]), 0.5 * (d_real[1] + d_fake[1])
            z = rng.standard_normal((args.batch, args.latent)).astype(np.float32)
            g_loss = gan.train_on_batch(z, real_y)                    # a float: no metrics
            losses["d_loss"].append(d_loss)
            losses["g_loss"].append(g_loss)
            losses["d_acc"].append(d_acc)
            bar.update(step + 1, [("d_loss", d_loss), ("d_acc", d_acc), ("g_loss", g_loss)])
        grids.append(generator.predict(fixed_z, verbose=0))
    secs = time.perf_counter() - t0

    stats = real_vs_fake_stats(x, generator.predict(z_eval, verbose=0), labels)
    ep = max(1, steps)
    first, last = np.mean(losses["d_loss"][:ep]), np.mean(losses["d_loss"][-ep:])
    g_first, g_last = np.mean(losses["g_loss"][:ep]), np.mean(losses["g_loss"][-ep:])
    print(f"{args.epochs} epochs in {secs:.0f} s; last epoch: d_loss {last:.3f} (first {first:.3f}), "
          f"g_loss {g_last:.3f} (first {g_first:.3f}), d_acc {np.mean(losses['d_acc'][-ep:]):.3f}")
    print(f"1000 samples: {stats['classes_covered']}/10 digit classes covered (nearest real centroid), "
          f"largest class {100 * stats['largest_class_share']:.0f} %; distance to the nearest centroid "
          f"{stats['fake_to_centroid']:.2f} (real digits: {stats['real_to_centroid']:.2f}, "
          f"untrained generator: {stats0['fake_to_centroid']:.2f})")
    result = {"losses": losses, "stats": stats, "stats_untrained": stats0, "seconds": secs, "grids": grids}
    try:
        result["figures"] = draw(grids, losses, steps, args.out)
        print("figures:", ", ".join(result["figures"]))
    except ImportError:
        print("matplotlib not installed: no PNG written (pip install 'nnkernels[examples]')")
    return result


def draw(grids, losses, steps, out):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(out, exist_ok=True)
    frames = os.path.join(out, "gan_digits_epochs")
    os.makedirs(frames, exist_ok=True)
    for e, g in enumerate(grids):                      # one grid per epoch
        plt.imsave(os.path.join(frames, f"epoch_{e + 1:03d}.png"), grid_image(g, 4), cmap="gray_r", vmin=0, vmax=1)
    paths = []
    picks = sorted({0, len(grids) // 8, len(grids) // 4, len(grids) // 2, len(grids) - 1})
    fig, axes = plt.subplots(1, len(picks), figsize=(2.6 * len(picks), 2.4))
    for ax, e in zip(np.atleast_1d(axes), picks):
        ax.imshow(grid_image(grids[e][:20], 4), cmap="gray_r", vmin=0, vmax=1)
        ax.set_title(f"epoch {e + 1}")
        ax.axis("off")
    fig.suptitle("GAN samples (same latent vectors each epoch)")
    fig.tight_layout()
    paths.append(os.path.join(out, "gan_digits_samples.png"))
    fig.savefig(paths[-1], dpi=80)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 3.2))
    t = np.arange(1, len(losses["d_loss"]) + 1) / max(steps, 1)
    k = max(1, steps // 2)                                # smooth over half an epoch
    smooth = lambda v: np.convolve(v, np.ones(k) / k, mode="valid")  # noqa: E731
    for name in ("d_loss", "g_loss"):
        ax.plot(t, losses[name], alpha=0.25, lw=0.7)
        ax.plot(t[k - 1:], smooth(losses[name]), label=name.replace("_", " "), color=ax.lines[-1].get_color())
    ax.axhline(np.log(2), color="gray", ls=":", lw=1, label="ln 2 (D at chance)")
    ax.set(xlabel="epoch", ylabel="binary cross-entropy", title="GAN losses per batch")
    ax.legend()
    fig.tight_layout()
    paths.append(os.path.join(out, "gan_digits_losses.png"))
    fig.savefig(paths[-1], dpi=80)
    plt.close(fig)
    paths.append(frames)
    return paths


if __name__ == "__main__":
    main()
