"""Figures of a run: image grids, the evolution GIF and training curves."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from cgan.io import atomic_write


def agg_pyplot():
    """pyplot on the Agg backend, imported on first use: writing a PNG needs only PIL (fast `cgan generate`)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def tile(images: np.ndarray, rows: int, cols: int, pad: int = 2, scale: int = 1) -> np.ndarray:
    """uint8 N×H×W×C images → one uint8 mosaic (row-major), upscaled by `scale`."""
    n, h, w, c = images.shape
    canvas = np.full((rows * (h + pad) + pad, cols * (w + pad) + pad, c), 255, dtype="uint8")
    for i in range(min(n, rows * cols)):
        r, k = divmod(i, cols)
        canvas[pad + r * (h + pad):pad + r * (h + pad) + h, pad + k * (w + pad):pad + k * (w + pad) + w] = images[i]
    if scale > 1:
        canvas = canvas.repeat(scale, axis=0).repeat(scale, axis=1)
    return canvas


def named_tile(images: np.ndarray, names, cols: int, scale: int = 1, pad: int = 2) -> np.ndarray:
    """`tile` with the class names drawn by Pillow (no matplotlib, so the light generate install can do it).

    One image per name (`cols` to a row): the name goes under each cell. Several images per name, a row each
    (`cols` = images per name): the name goes at the left of its row.
    """
    from PIL import ImageDraw, ImageFont

    font = ImageFont.load_default()
    per_name = len(images) // len(names)
    rows = -(-len(images) // cols)
    grid = tile(images, rows, cols, pad=pad, scale=scale)
    cell_h = (images.shape[1] + pad) * scale
    text_h = 14
    if per_name == 1:  # a caption strip under every row of cells
        width = grid.shape[1]
        canvas = Image.new("RGB", (width, grid.shape[0] + rows * text_h), "white")
        draw = ImageDraw.Draw(canvas)
        cell_w = (images.shape[2] + pad) * scale
        for r in range(rows):
            strip = Image.fromarray(_rgb(grid[r * cell_h:(r + 1) * cell_h]))
            canvas.paste(strip, (0, r * (cell_h + text_h)))
            for k, name in enumerate(names[r * cols:(r + 1) * cols]):
                draw.text((k * cell_w + pad * scale, r * (cell_h + text_h) + cell_h), _fit(draw, font, str(name),
                          cell_w - pad * scale), fill="black", font=font)
    else:  # one row per name, the name at its left
        margin = max(int(ImageDraw.Draw(Image.new("RGB", (1, 1))).textlength(str(n), font=font)) for n in names) + 8
        canvas = Image.new("RGB", (grid.shape[1] + margin, grid.shape[0]), "white")
        canvas.paste(Image.fromarray(_rgb(grid)), (margin, 0))
        draw = ImageDraw.Draw(canvas)
        for r, name in enumerate(names):
            draw.text((4, r * cell_h + cell_h // 2 - 6), str(name), fill="black", font=font)
    return np.asarray(canvas)


def _rgb(array: np.ndarray) -> np.ndarray:
    return np.repeat(array, 3, axis=-1) if array.shape[-1] == 1 else array


def _fit(draw, font, text: str, width: int) -> str:
    """The name, shortened with '…' until it fits under its cell."""
    while len(text) > 1 and draw.textlength(text, font=font) > width:
        text = text[:-2] + "…"
    return text


def save_png(array: np.ndarray, path) -> None:
    image = array[..., 0] if array.shape[-1] == 1 else array
    Image.fromarray(image).save(path)


def labelled_grid(images: np.ndarray, names, title: str, path) -> None:
    """One cell per class with its name underneath (the per-epoch evolution grid)."""
    n = len(images)
    cols = min(n, 10)
    rows = -(-n // cols)
    plt = agg_pyplot()
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.1, rows * 1.25 + 0.4), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, name in zip(axes.flat, images, names):
        ax.imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray", vmin=0, vmax=255)
        ax.set_title(str(name), fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


# Frames kept in evolution.gif: evenly spaced epochs, the first and the last always among them. A 400-epoch
# CIFAR-100 run's 10×10 grids take ~0.3 MB a frame; every frame would make a 100 MB GIF, rewritten each epoch.
MAX_GIF_FRAMES = 40
# And at most this many bytes: git carries the GIF of every committed run. MNIST and CIFAR-10 GIFs stay under it
# whole (≤ 1.2 MB for 40 frames); a CIFAR-100 grid draws its 32-pixel images about 88 pixels wide, so its frames
# are halved first (the images stay near their own size, the class names small but legible), then fewer frames
# are kept.
GIF_MAX_BYTES = 3 * 2**19


def gif_frames(frames: list, limit: int = MAX_GIF_FRAMES, epochs: list[int] | None = None) -> list:
    """At most `limit` frames, the first and the last among them, evenly spaced in `epochs` (default: in order).
    By epoch, because a run that crossed sessions may keep only some of its early grids: spacing by position
    would crowd the GIF with its later epochs."""
    if len(frames) <= limit:
        return list(frames)
    at = np.asarray(range(len(frames)) if epochs is None else epochs, dtype=float)
    targets = np.linspace(at[0], at[-1], limit)
    picks = np.abs(at[None, :] - targets[:, None]).argmin(axis=1)
    return [frames[i] for i in sorted(set(picks))]


def _encode_gif(frames: list[Path], half: bool, ms_per_frame: int) -> bytes:
    images = []
    for frame in frames:
        image = Image.open(frame).convert("RGB")
        if half:
            image = image.resize((image.width // 2, image.height // 2), Image.Resampling.LANCZOS)
        images.append(image.convert("P", palette=Image.Palette.ADAPTIVE))
    buffer = io.BytesIO()
    images[0].save(buffer, format="GIF", save_all=True, append_images=images[1:], duration=ms_per_frame, loop=0)
    return buffer.getvalue()


def write_gif(frames: list[Path], path, ms_per_frame: int = 400, max_bytes: int = GIF_MAX_BYTES,
              epochs: list[int] | None = None) -> None:
    """The evolution GIF of `frames` (their `epochs` space the frames it keeps: gif_frames)."""
    chosen = gif_frames(frames, epochs=epochs)
    if not chosen:
        return
    # Sized from the last frame alone (rewritten every epoch, the GIF must stay cheap), then checked whole.
    half = len(_encode_gif(chosen[-1:], False, ms_per_frame)) * len(chosen) > max_bytes
    if half:
        per_frame = len(_encode_gif(chosen[-1:], True, ms_per_frame))
        chosen = gif_frames(frames, max(2, min(len(chosen), int(0.9 * max_bytes / per_frame))), epochs)
    data = _encode_gif(chosen, half, ms_per_frame)
    while len(data) > max_bytes and len(chosen) > 2:  # bytes grow about linearly with frames; aim 10 % under
        chosen = gif_frames(frames, max(2, min(len(chosen) - 1, int(len(chosen) * 0.9 * max_bytes / len(data)))),
                            epochs)
        data = _encode_gif(chosen, half, ms_per_frame)
    Path(path).write_bytes(data)


def _line_plot(frame, columns, title, ylabel, path, xlabel="epoch"):
    plt = agg_pyplot()
    fig, ax = plt.subplots(figsize=(7, 4))
    for col in columns:
        if col in frame:
            ax.plot(frame.index if xlabel == "epoch" else np.arange(len(frame)), frame[col],
                    label=col, marker="o" if xlabel == "epoch" and len(frame) < 30 else None)
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=90, format="png"))
    plt.close(fig)


def plot_history(history, iterations, folder: Path) -> None:
    """The three plots of a run folder, from its history and per-iteration frames."""
    folder.mkdir(parents=True, exist_ok=True)
    if iterations is not None and len(iterations):
        smooth = iterations[["d_loss", "g_loss"]].rolling(25, min_periods=1).mean()
        _line_plot(smooth, ["d_loss", "g_loss"], "Loss per iteration (rolling mean of 25)",
                   "BCE loss", folder / "loss_per_iteration.png", xlabel="iteration")
    frame = history.set_index("epoch")
    _line_plot(frame, ["d_loss", "val_d_loss", "g_loss", "val_g_loss"],
               "Losses per epoch (train vs test)", "BCE loss", folder / "loss_per_epoch.png")
    plot_d_metrics(frame, folder / "d_metrics_per_epoch.png")
    if "quality_fd" in frame:  # written by cgan.training.quality.QualityMonitor (config quality_every)
        plot_quality(frame, folder / "quality_per_epoch.png")
        plot_quality(frame.set_index(training_minutes(frame)), folder / "quality_per_minute.png", "training minutes")


D_METRIC_PANELS = (("accuracy", "f1"), ("precision", "recall"))
METRIC_TITLES = {"accuracy": "accuracy", "f1": "F1", "precision": "precision", "recall": "recall"}
SPLIT_COLOURS = {"train": "tab:blue", "test": "tab:orange"}


def moving_average_window(epochs: int) -> int:
    """About a tenth of the run, odd, at least 1: a 20-epoch run stays nearly raw, a 300-epoch one is smoothed."""
    return max(1, (epochs // 10) | 1) if epochs >= 10 else 1


def plot_d_metrics(frame, path) -> None:
    """D's metrics in four panels (accuracy, F1; precision, recall), train against test in each: a centred
    moving average, with the raw per-epoch values faint behind it, so that long noisy runs stay readable."""
    plt = agg_pyplot()
    fig, axes = plt.subplots(2, 2, figsize=(10, 6), sharex=True)
    window = moving_average_window(len(frame))
    for row, names in enumerate(D_METRIC_PANELS):
        for col, metric in enumerate(names):
            ax = axes[row][col]
            for split, colour in SPLIT_COLOURS.items():
                column = f"{split}_d_{metric}"
                if column not in frame:
                    continue
                values = frame[column]
                if window > 1:
                    ax.plot(frame.index, values, color=colour, alpha=0.25, linewidth=0.8)
                smooth = values.rolling(window, center=True, min_periods=1).mean()
                ax.plot(frame.index, smooth, color=colour, label=split,
                        marker="o" if len(frame) < 30 else None)
            ax.set(title=f"D {METRIC_TITLES[metric]}" + (f" (moving average of {window} epochs)" if window > 1 else ""),
                   ylim=(-0.02, 1.02))
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)
    for ax in axes[-1]:
        ax.set_xlabel("epoch")
    fig.suptitle("Discriminator metrics per epoch (real = positive class), train vs test")
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=90, format="png"))
    plt.close(fig)


def training_minutes(frame):
    """Wall-clock minutes of training at the end of each epoch: its steps, D report and quality scoring."""
    spent = sum(frame[col].fillna(0.0) for col in ("train_seconds", "eval_seconds", "quality_seconds")
                if col in frame)
    return (spent.cumsum() / 60.0).rename("minutes")


def plot_quality(frame, path, xlabel: str = "epoch") -> None:
    """FD against its real-data floor, and the [0, 1] scores, on the epochs (or minutes) that were scored."""
    scored = frame.dropna(subset=["quality_fd"])
    plt = agg_pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    marker = "o" if len(scored) < 30 else None
    left.plot(scored.index, scored["quality_fd"], marker=marker, label="FD (generated vs test)")
    if "quality_fd_floor" in scored:
        left.plot(scored.index, scored["quality_fd_floor"], "--", label="floor (real held-out)")
    left.set(title="Fréchet distance in the domain classifier's features", xlabel=xlabel,
             ylabel="FD (lower is better)", yscale="log")  # early FDs are ~100× the floor
    for col in ("quality_label_accuracy", "quality_precision", "quality_recall", "quality_coverage"):
        if col in scored:
            right.plot(scored.index, scored[col], marker=marker, label=col.removeprefix("quality_"))
    right.set(title="Label accuracy, precision, recall, coverage", xlabel=xlabel, ylabel="score (higher is better)",
              ylim=(0, 1.02))
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    atomic_write(path, lambda tmp: fig.savefig(tmp, dpi=90, format="png"))
    plt.close(fig)
