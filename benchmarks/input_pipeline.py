"""Input pipeline throughput (JPEG folder and TFRecord) against the models' train-step consumption.

Writes a temporary folder of JPEGs (crops of the built-in photographs at
`source_side` x `source_side`, quality 90) and a TFRecord file of the same
JPEG bytes, then runs `keras_inpaint.data.build_dataset` on each zoo
recipe's own data spec (its resize mode, masks and augmentation) with the
source replaced by the folder or the TFRecord file, at the recipe's image
size and batch size: decode + crop/resize + augment + masks + batch. The
pipelines' images per second are measured in rounds that alternate with
the train steps of the fastest zoo models (the 128x128 Context Encoders,
`models.py` shows they are the fastest), so a change of load hits both
alike; `ratio` = pipeline images/s / train-step images/s of the same
recipe, measured in this process.

    python benchmarks/input_pipeline.py [--tiny | --quick]

Prints one JSON object: `{"benchmark": "input_pipeline", "setting",
"source_side", "source_images", "pipelines": [...], "train_steps": [...],
"fastest_model": {...}}` (keys in benchmarks/README.md).
"""

import os
import shutil
import statistics
import tempfile
import time

from benchlib import emit, example_batch, finish, log, parse_setting  # noqa: E402

# (key, recipe) whose data spec is measured; the first group also trains here.
FASTEST_CANDIDATES = (
    ("context_encoder_center", "context_encoder/center_128"),
    ("context_encoder_full", "patch_gan/monet_context_encoder_128"),
    ("context_encoder_alexnet", "context_encoder/alexnet_region_128"),
)
OTHER_RECIPES = (
    ("glcic", "glcic/places2_256"),
    ("pepsi", "pepsi/celeba_hq_256"),
    ("pconv_unet", "pconv_unet/places2_512_stage1"),
)

SETTINGS = {
    "tiny": {
        "pipelines": (("context_encoder_builtin_64", "context_encoder/builtin_64"),),
        "trained": (("context_encoder_builtin_64", "context_encoder/builtin_64"),),
        "source_images": 8,
        "source_side": 160,
        "images_per_round": 16,
        "rounds": 1,
        "batch_cap": 4,
        "train_batch_cap": 4,
    },
    "quick": {
        "pipelines": FASTEST_CANDIDATES[:1],
        "trained": FASTEST_CANDIDATES[:1],
        "source_images": 16,
        "source_side": 600,
        "images_per_round": 64,
        "rounds": 2,
        "batch_cap": 32,
        "train_batch_cap": 16,
    },
    "full": {
        "pipelines": FASTEST_CANDIDATES + OTHER_RECIPES,
        "trained": FASTEST_CANDIDATES,
        "source_images": 256,
        "source_side": 600,
        "images_per_round": 768,
        "rounds": 5,
        "batch_cap": None,
        "train_batch_cap": None,
    },
}


def write_sources(folder, count, side):
    """`count` JPEGs of `side` x `side` under `folder/images` and the same bytes in one TFRecord."""
    import numpy as np
    import tensorflow as tf

    from keras_inpaint.data.builtin import builtin_photos

    photos = builtin_photos("train")
    rng = np.random.default_rng(0)
    image_folder = os.path.join(folder, "images")
    os.makedirs(image_folder)
    record_path = os.path.join(folder, "images.tfrecord")
    with tf.io.TFRecordWriter(record_path) as writer:
        for index in range(count):
            photo = photos[index % len(photos)]
            window = int(min(photo.shape[:2]) * rng.uniform(0.6, 1.0))
            top = rng.integers(0, photo.shape[0] - window + 1)
            left = rng.integers(0, photo.shape[1] - window + 1)
            crop = photo[top : top + window, left : left + window]
            image = tf.cast(tf.image.resize(crop, (side, side)), tf.uint8)
            encoded = tf.io.encode_jpeg(image, quality=90).numpy()
            with open(os.path.join(image_folder, f"{index:05d}.jpg"), "wb") as file:
                file.write(encoded)
            feature = tf.train.Feature(bytes_list=tf.train.BytesList(value=[encoded]))
            example = tf.train.Example(features=tf.train.Features(feature={"image": feature}))
            writer.write(example.SerializeToString())
    return image_folder, record_path


def pipeline_iterator(recipe, source, batch_size):
    """An endless iterator of training batches of the recipe's data spec on `source`."""
    from keras_inpaint.data.pipeline import build_dataset, load_data_spec

    spec = dict(load_data_spec(recipe["data"]))
    spec["source"] = source
    batches = build_dataset(spec, recipe["image_size"], batch_size, split="train", seed=0)
    return iter(batches)


def _time_batches(iterator, count):
    start = time.perf_counter()
    for _ in range(count):
        next(iterator)[1].numpy()
    return time.perf_counter() - start


def main():
    setting, _ = parse_setting(__doc__.split("\n\n")[0])
    config = SETTINGS[setting]
    folder = tempfile.mkdtemp(prefix="keras_inpaint_pipeline_")
    try:
        emit(run(config, setting, folder))
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def run(config, setting, folder):
    """Measure the pipelines and the train steps; the JSON object as a dict."""
    import keras
    import tensorflow as tf

    from keras_inpaint.training.recipes import build_inpainter, load_recipe

    start = time.perf_counter()
    image_folder, record_path = write_sources(
        folder, config["source_images"], config["source_side"]
    )
    log(f"input_pipeline: wrote the sources in {time.perf_counter() - start:.1f} s")
    sources = {
        "jpeg_folder": {"type": "folder", "path": image_folder},
        "tfrecord": {"type": "tfrecord", "pattern": record_path, "image_key": "image"},
    }

    # Each recipe's pipeline on each source: warmed-up iterators, timed in rounds.
    timed = {}
    pipelines = []
    for key, recipe_name in config["pipelines"]:
        recipe = load_recipe(recipe_name)
        batch = recipe["training"]["batch_size"]
        if config["batch_cap"]:
            batch = min(batch, config["batch_cap"])
        count = max(2, -(-config["images_per_round"] // batch))
        for source_name, source in sources.items():
            iterator = pipeline_iterator(recipe, source, batch)
            _time_batches(iterator, 2)  # trace, fill the prefetch buffers
            entry = {
                "model": key,
                "recipe": recipe_name,
                "data_spec": recipe["data"],
                "source": source_name,
                "image_size": recipe["image_size"],
                "batch": batch,
            }
            pipelines.append(entry)
            timed[(key, source_name)] = (iterator, count, batch, [])

    # The fastest models' train steps, one compiled step each on one batch.
    steps = {}
    for key, recipe_name in config["trained"]:
        keras.utils.set_random_seed(0)
        recipe = load_recipe(recipe_name)
        batch = recipe["training"]["batch_size"]
        if config["train_batch_cap"]:
            batch = min(batch, config["train_batch_cap"])
        model = build_inpainter(recipe)
        data = example_batch(recipe, batch, recipe["image_size"])

        def step(model=model, data=data):
            return model.train_step(data)

        function = tf.function(step)
        function()  # trace and warm up
        steps[key] = (function, batch, [])

    for round_index in range(config["rounds"]):
        for iterator, count, batch, seconds in timed.values():
            seconds.append(_time_batches(iterator, count) / (count * batch))
        for function, batch, seconds in steps.values():
            start = time.perf_counter()
            for _ in range(2):
                finish(function())
            seconds.append((time.perf_counter() - start) / (2 * batch))
        log(f"input_pipeline: round {round_index + 1}/{config['rounds']} done")

    train_steps = []
    for key, (_, batch, seconds) in steps.items():
        train_steps.append(
            {
                "model": key,
                "batch": batch,
                "images_per_s": round(1.0 / statistics.median(seconds), 2),
            }
        )
    train_rate = {entry["model"]: entry["images_per_s"] for entry in train_steps}
    for entry in pipelines:
        seconds = timed[(entry["model"], entry["source"])][3]
        entry["images_per_s"] = round(1.0 / statistics.median(seconds), 2)
        if entry["model"] in train_rate:
            entry["train_step_images_per_s"] = train_rate[entry["model"]]
            entry["ratio"] = round(entry["images_per_s"] / train_rate[entry["model"]], 3)
    fastest = max(train_steps, key=lambda entry: entry["images_per_s"])
    own = [entry for entry in pipelines if entry["model"] == fastest["model"]]
    return {
        "benchmark": "input_pipeline",
        "setting": setting,
        "source_images": config["source_images"],
        "source_side": config["source_side"],
        "rounds": config["rounds"],
        "pipelines": pipelines,
        "train_steps": train_steps,
        "fastest_model": {
            "model": fastest["model"],
            "train_step_images_per_s": fastest["images_per_s"],
            "slowest_source": min(own, key=lambda entry: entry["images_per_s"])["source"],
            "ratio": min(entry["ratio"] for entry in own),
        },
    }


if __name__ == "__main__":
    main()
