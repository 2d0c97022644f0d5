"""``caffe-compat convert_imageset [FLAGS] ROOTFOLDER/ LISTFILE DB_NAME`` (tools/
convert_imageset.cpp): the images of LISTFILE (a path and a label per line, the label after
the last space) stored as Datum records in a new LMDB or LevelDB.

Record ``i`` (the list's line index, counted also over images that could not be read and are
skipped) has key ``"%08d_%s" % (i, path)`` and the Datum ReadImageToDatum makes: raw C x H x
W bytes (BGR, or grey with ``--gray``), resized with ``--resize_height/--resize_width``; with
``--encoded`` (or ``--encode_type``) the image file itself when its extension is the encoding
and nothing was resized or converted, else the image re-encoded by OpenCV. ``--shuffle``
shuffles the lines with Caffe's shuffle on its random stream (unseeded in Caffe; the extra
``--random_seed`` seeds it as Caffe::set_random_seed would). Records are committed every
1000; the database appears at DB_NAME only when complete.
"""
from __future__ import annotations

from ..cli.registry import bool_flag, register_command
from ..cli.registry import caffe_flag as _flag
from ..data import db as db_io
from ..data.caffe_random import CaffeRandom, shuffle
from ..data.images import image_to_datum, read_list_file
from ..errors import DataError
from ..cli._log import log, progress_bar


def add_arguments(p):
    bool_flag(p, "gray", "treat images as grayscale ones")
    bool_flag(p, "shuffle", "randomly shuffle the order of images and their labels")
    _flag(p, "backend", default="lmdb", help="the backend {lmdb, leveldb} for storing the "
          "result")
    _flag(p, "resize_width", type=int, default=0, help="width images are resized to")
    _flag(p, "resize_height", type=int, default=0, help="height images are resized to")
    bool_flag(p, "check_size", "check that all the datum have the same size")
    bool_flag(p, "encoded", "store the encoded image in the datum")
    _flag(p, "encode_type", default="", help="optional: what type to encode the image as "
          "('png', 'jpg', ...)")
    _flag(p, "random_seed", type=int, default=None, help="seed of --shuffle (not a Caffe "
          "flag; Caffe's shuffle is unseeded)")
    p.add_argument("root_folder", help="ROOTFOLDER/ (prepended to each listed path as is)")
    p.add_argument("list_file", help="LISTFILE: 'path label' per line")
    p.add_argument("db_name", help="DB_NAME: the database to create")


def convert_imageset(root_folder, list_file, db_name, *, gray=False, shuffle_lines=False,
                     backend="lmdb", resize_height=0, resize_width=0, check_size=False,
                     encoded=False, encode_type="", random_seed=None, progress=None):
    """Write the database; returns the number of records stored."""
    is_color = not gray
    lines = read_list_file(list_file, where="convert_imageset")
    if shuffle_lines:
        log("Shuffling data", where="convert_imageset.cpp:86")
        shuffle(lines, CaffeRandom(random_seed))
    log(f"A total of {len(lines)} images.", where="convert_imageset.cpp:89")
    if encode_type and not encoded:
        log("encode_type specified, assuming encoded=true.", where="convert_imageset.cpp:92")
    resize_height = max(0, int(resize_height))
    resize_width = max(0, int(resize_width))
    count = 0
    data_size = None
    bar = progress_bar(progress, total=len(lines), desc="convert_imageset", unit="img")
    with bar, db_io.create_db(db_name, backend) as writer:
        for line_id, (name, label) in enumerate(lines):
            enc = encode_type
            if encoded and not enc:
                p = name.rfind(".")
                if p < 0:
                    log(f"Failed to guess the encoding of '{name}'", "W",
                        where="convert_imageset.cpp:117")
                enc = name[p + 1:].lower()
            datum = image_to_datum(root_folder + name, label, resize_height, resize_width,
                                   is_color, enc)
            bar.update(1)
            if datum is None:
                log(f"Could not open or find file {root_folder + name}", "E", where="io.cpp:80")
                continue
            if check_size:
                if data_size is None:
                    data_size = datum.channels * datum.height * datum.width
                elif len(datum.data) != data_size:
                    raise DataError(f"{list_file}:{line_id + 1}: image '{name}': incorrect data "
                                    f"field size {len(datum.data)} (the first image had "
                                    f"{data_size}; --check_size)")
            key = f"{line_id:08d}_{name}".encode("utf-8", errors="surrogateescape")
            writer.put(key, datum.SerializeToString())
            count += 1
            if count % 1000 == 0:
                writer.commit()
                log(f"Processed {count} files.", where="convert_imageset.cpp:147")
        if count % 1000 != 0:
            log(f"Processed {count} files.", where="convert_imageset.cpp:153")
    return count


def run(args):
    convert_imageset(args.root_folder, args.list_file, args.db_name, gray=args.gray,
                     shuffle_lines=args.shuffle, backend=args.backend,
                     resize_height=args.resize_height, resize_width=args.resize_width,
                     check_size=args.check_size, encoded=args.encoded,
                     encode_type=args.encode_type, random_seed=args.random_seed)
    return 0


register_command("convert_imageset", add_arguments, run,
                 "store a list of images in a new LMDB/LevelDB of Datums")
