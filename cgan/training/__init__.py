"""Training: the conditional GAN, its loop, and what the loop leaves in the run folder.

    gan.py         ConditionalGAN, a keras.Model whose train_step updates D then G (losses, EMA, DiffAugment)
    train.py       train(config) → a run folder, resumed from its checkpoint when there is one
    checkpoint.py  what one epoch's checkpoint holds, and loading it back
    batches.py     the (seed, epoch) order of the training images
    augment.py     DiffAugment
    schedule.py    learning-rate decay
    backends/      the gradient step, one small module per Keras backend
    callbacks.py   per-epoch records: D's report, the evolution grid, history, iterations, the save
    quality.py     label accuracy, FD, KID, precision/recall every k epochs (config `quality_every`)
    watch.py       the progress bar and TensorBoard
    stop.py        SIGINT/SIGTERM as a clean stop at the last finished epoch
"""
