"""A short H.264 video made from a real photograph (scikit-image's ``astronaut``, public
domain, shipped in its wheel), for the face-detector tests: a face about 130 x 170 px that
moves a few pixels per frame, and optionally frames without a face (mid grey)."""
import numpy as np

WIDTH, HEIGHT = 640, 480
# where the face lies in frame 1 (measured: MTCNN on OpenCV 4.14 and 5.0 finds it at about
# x 139-272, y 91-260); the tests check detections against this region, 0-based
FACE_REGION = (115, 60, 300, 290)          # x1, y1, x2, y2


def astronaut_frames(n, blank=()):
    """``n`` RGB frames (HEIGHT x WIDTH x 3 uint8); frame k is shifted right by 2k px; frames
    whose 0-based index is in ``blank`` are grey."""
    import cv2
    from skimage import data
    big = cv2.resize(data.astronaut(), None, fx=1.5, fy=1.5, interpolation=cv2.INTER_AREA)
    frames = []
    for k in range(n):
        if k in blank:
            frames.append(np.full((HEIGHT, WIDTH, 3), 128, np.uint8))
            continue
        x0 = 128 - 2 * k
        frames.append(np.ascontiguousarray(big[:HEIGHT, x0:x0 + WIDTH]))
    return frames


def write_video(path, frames, rate=25):
    """H.264 (yuv420p) video of the RGB frames."""
    import av
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=rate)
        s.width, s.height, s.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        s.options = {"crf": "12"}
        for f in frames:
            for p in s.encode(av.VideoFrame.from_ndarray(f, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path
