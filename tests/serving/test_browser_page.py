"""The inpainting page at `/` of `keras-inpaint serve`, in a headless Chromium driven by Selenium.

A LocalServer serves two tiny exported models; the page opens a generated photo, strokes
are painted with the mouse, and the page's answer must equal the REST API's for the same
PNG files and differ from the photo only inside the painted hole.

With `KERAS_INPAINT_PAGE_SCREENSHOT=<path.png>` set, the first test also saves a screenshot
of the page (photo, painted hole, result) there, as docs/images/inpainting_page.png is made.
"""

import base64
import io
import json
import os
import shutil
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from test_case import tiny_fully_convolutional

from keras_inpaint.export import export_saved_model
from keras_inpaint.serving import client
from keras_inpaint.serving.local_server import LocalServer

pytestmark = pytest.mark.large

CHROMIUM = "/usr/bin/chromium"
MAX_PIXELS = 40_000
MAX_SIDE = 512
BRUSH = 30  # the page's default brush diameter, in screen pixels
SCREENSHOT_VARIABLE = "KERAS_INPAINT_PAGE_SCREENSHOT"
SCREENSHOT_BYTES = 200 * 1024

webdriver = pytest.importorskip("selenium.webdriver", reason="pip install selenium")
from selenium.webdriver.common.action_chains import ActionChains  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402


def chromedriver_path():
    return shutil.which("chromedriver") or "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    base = tmp_path_factory.mktemp("page_models")
    export_saved_model(tiny_fully_convolutional(), base, name="fcn", max_side=MAX_SIDE)
    export_saved_model(tiny_fully_convolutional(), base, name="fcn_other")
    with LocalServer([base / "fcn", base / "fcn_other"], workers=1, max_pixels=MAX_PIXELS) as live:
        yield live


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).is_file() or not Path(chromedriver_path()).is_file():
        pytest.skip(
            f"needs {CHROMIUM} and chromedriver: apt-get install -y chromium chromium-driver"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.add_argument("--window-size=1200,760")
    service = webdriver.ChromeService(executable_path=chromedriver_path())
    driver = webdriver.Chrome(options=options, service=service)
    try:
        yield driver
    finally:
        driver.quit()


def generated_photo(path, width, height):
    """A smooth colour photo with some texture, written as PNG to `path`; its pixels."""
    rows, columns = np.mgrid[0:height, 0:width].astype(np.float32)
    red = 128 + 100 * np.sin(columns / 17.0)
    green = 128 + 100 * np.cos(rows / 13.0)
    blue = 128 + 60 * np.sin((rows + columns) / 9.0)
    pixels = np.stack([red, green, blue], axis=-1).round().astype(np.uint8)
    Image.fromarray(pixels).save(path)
    return pixels


def data_url_pixels(url, mode):
    prefix, data = url.split(",", 1)
    assert prefix == "data:image/png;base64", prefix
    with Image.open(io.BytesIO(base64.b64decode(data))) as image:
        return np.asarray(image.convert(mode)), base64.b64decode(data)


def open_page(driver, server, photo_path):
    driver.get(f"{server.url}/")
    WebDriverWait(driver, 30).until(
        lambda page: page.find_element(By.TAG_NAME, "body").get_attribute("data-ready")
    )
    driver.find_element(By.ID, "photo-file").send_keys(str(photo_path))
    WebDriverWait(driver, 30).until(lambda page: page.find_element(By.ID, "mask").is_displayed())
    return driver.find_element(By.ID, "mask")


def paint(driver, canvas, points):
    """One stroke through `points`, in canvas pixels from its top left corner."""
    width, height = canvas.size["width"], canvas.size["height"]
    actions = ActionChains(driver)
    (x, y), rest = points[0], points[1:]
    actions.move_to_element_with_offset(canvas, x - width // 2, y - height // 2)
    actions.click_and_hold()
    for next_x, next_y in rest:
        actions.move_by_offset(next_x - x, next_y - y)
        x, y = next_x, next_y
    actions.release().perform()


def painted_alpha(driver):
    """The mask canvas's alpha channel (what the brush has painted), as uint8 (H, W)."""
    url = driver.execute_script("return document.getElementById('mask').toDataURL('image/png')")
    return data_url_pixels(url, "RGBA")[0][..., 3]


def inpaint_and_read(driver):
    driver.find_element(By.ID, "inpaint").click()
    WebDriverWait(driver, 120).until(
        lambda page: (
            page.find_element(By.ID, "result").get_attribute("data-ready")
            or "error" in page.find_element(By.ID, "message").get_attribute("class")
        )
    )
    result = driver.find_element(By.ID, "result")
    assert result.get_attribute("data-ready"), driver.find_element(By.ID, "message").text
    urls = {
        name: driver.find_element(By.ID, element).get_attribute(attribute)
        for name, element, attribute in (
            ("before", "before", "src"),
            ("after", "after", "src"),
            ("mask", "download-mask", "href"),
        )
    }
    return urls


def distance_to_segment(shape, start, end):
    rows, columns = np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float64)
    start, end = np.asarray(start, np.float64), np.asarray(end, np.float64)
    along = end - start
    t = ((columns - start[0]) * along[0] + (rows - start[1]) * along[1]) / (along @ along)
    t = np.clip(t, 0.0, 1.0)
    return np.hypot(columns - start[0] - t * along[0], rows - start[1] - t * along[1])


def save_screenshot(driver, path):
    """The page as a PNG of under `SCREENSHOT_BYTES` (a 256-colour palette image if needed)."""
    driver.execute_script("window.scrollTo(0, 0)")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with Image.open(io.BytesIO(driver.get_screenshot_as_png())) as shot:
        shot.convert("RGB").save(path, optimize=True)
        if path.stat().st_size >= SCREENSHOT_BYTES:
            shot.convert("RGB").quantize(colors=256).save(path, optimize=True)
    assert path.stat().st_size < SCREENSHOT_BYTES, path.stat().st_size


def test_page_inpaints_the_painted_hole_as_the_rest_api_does(server, browser, tmp_path):
    photo = generated_photo(tmp_path / "photo.png", 160, 120)
    canvas = open_page(browser, server, tmp_path / "photo.png")
    limits = browser.find_element(By.ID, "limits").text
    assert f"{MAX_SIDE} px on a side" in limits and f"{MAX_PIXELS:,}" in limits, limits
    model = Select(browser.find_element(By.ID, "model"))
    assert [option.get_attribute("value") for option in model.options] == ["fcn", "fcn_other"]
    model.select_by_value("fcn_other")
    assert (canvas.size["width"], canvas.size["height"]) == (160, 120)
    stroke = [(30, 40), (90, 50)]
    paint(browser, canvas, stroke)
    paint(browser, canvas, [(120, 70), (125, 100)])

    urls = inpaint_and_read(browser)
    before, image_file = data_url_pixels(urls["before"], "RGB")
    mask, mask_file = data_url_pixels(urls["mask"], "L")
    after, _ = data_url_pixels(urls["after"], "RGB")
    np.testing.assert_array_equal(before, photo)  # not scaled: the photo as opened
    assert set(np.unique(mask)) == {0, 255}
    # The hole is the brush's stroke: full inside, nothing well outside its soft edge.
    distance = distance_to_segment(mask.shape, *stroke)
    assert (mask[distance < BRUSH / 2 - 3] == 255).all()
    np.testing.assert_array_equal(mask == 255, painted_alpha(browser) >= 128)
    known = mask == 0
    np.testing.assert_array_equal(after[known], before[known])
    assert np.abs(after[~known].astype(int) - before[~known]).max() > 0

    answer = client.predict(
        server.url, "fcn_other", client.bytes_request([image_file], [mask_file])
    )
    np.testing.assert_array_equal(after, client.decode_response(answer)[0])
    other = client.predict(server.url, "fcn", client.bytes_request([image_file], [mask_file]))
    assert not np.array_equal(after, client.decode_response(other)[0])  # the model picked

    screenshot = os.environ.get(SCREENSHOT_VARIABLE)
    if screenshot:
        save_screenshot(browser, screenshot)


def test_eraser_undo_and_clear_change_the_mask(server, browser, tmp_path):
    generated_photo(tmp_path / "photo.png", 120, 80)
    canvas = open_page(browser, server, tmp_path / "photo.png")
    paint(browser, canvas, [(20, 40), (100, 40)])
    painted = painted_alpha(browser) >= 128
    assert painted[40, 20:101].all() and not painted[:10].any()

    browser.find_element(By.ID, "tool-eraser").click()
    paint(browser, canvas, [(60, 20), (60, 60)])
    erased = painted_alpha(browser) >= 128
    assert not erased[40, 55:66].any() and erased[40, 20:40].all()

    browser.find_element(By.ID, "undo").click()
    np.testing.assert_array_equal(painted_alpha(browser) >= 128, painted)
    browser.find_element(By.ID, "clear").click()
    assert not painted_alpha(browser).any()
    ActionChains(browser).key_down(Keys.CONTROL).send_keys("z").key_up(Keys.CONTROL).perform()
    np.testing.assert_array_equal(painted_alpha(browser) >= 128, painted)
    browser.find_element(By.ID, "tool-brush").click()


def test_a_large_photo_is_scaled_down_to_the_server_limits(server, browser, tmp_path):
    generated_photo(tmp_path / "large.png", 400, 300)
    canvas = open_page(browser, server, tmp_path / "large.png")
    message = browser.find_element(By.ID, "message").text
    # min(512 / 400, sqrt(40000 / 120000)) = 0.577: 230 x 173 = 39,790 pixels.
    assert "400 x 300" in message and "scaled down to 230 x 173" in message, message
    width, height = canvas.size["width"], canvas.size["height"]
    paint(browser, canvas, [(width // 3, height // 2), (width // 2, height // 2)])
    urls = inpaint_and_read(browser)
    after, _ = data_url_pixels(urls["after"], "RGB")
    assert after.shape == (173, 230, 3)


def test_a_file_that_is_no_image_is_refused_with_a_message(server, browser, tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("not an image")
    browser.get(f"{server.url}/")
    WebDriverWait(browser, 30).until(
        lambda page: page.find_element(By.TAG_NAME, "body").get_attribute("data-ready")
    )
    browser.find_element(By.ID, "photo-file").send_keys(str(path))
    WebDriverWait(browser, 30).until(
        lambda page: "error" in page.find_element(By.ID, "message").get_attribute("class")
    )
    assert "notes.png could not be read as an image" in browser.find_element(By.ID, "message").text
    assert browser.find_element(By.ID, "inpaint").get_attribute("disabled")


def fetch(url):
    """`(status, content type, body bytes)` of a GET; error statuses are returned, not raised."""
    try:
        with urllib.request.urlopen(url, timeout=30) as answer:
            return answer.status, answer.headers["Content-Type"], answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers["Content-Type"], error.read()


def test_the_page_its_files_and_its_settings_are_served_and_nothing_else(server):
    status, kind, body = fetch(f"{server.url}/")
    assert (status, kind) == (200, "text/html; charset=utf-8")
    assert b'<script src="/page/page.js" defer></script>' in body
    for name, wanted in (("page.js", "text/javascript"), ("page.css", "text/css")):
        status, kind, text = fetch(f"{server.url}/page/{name}")
        assert status == 200 and kind.startswith(wanted), (name, status, kind)
        assert b"://" not in text  # nothing fetched from elsewhere
    status, kind, body = fetch(f"{server.url}/page/settings.json")
    assert status == 200 and kind == "application/json"
    assert json.loads(body) == {
        "models": [
            {"name": "fcn", "version": 1, "max_side": MAX_SIDE},
            {"name": "fcn_other", "version": 1, "max_side": 2048},
        ],
        "max_pixels": MAX_PIXELS,
        "max_batch": 32,
        "max_request_bytes": 64 * 1024 * 1024,
    }
    for path in ("/page/index.html", "/page/..%2fpage_route.py", "/page/../page_route.py"):
        assert fetch(f"{server.url}{path}")[0] == 404, path
    # A query cannot pick another file.
    script = fetch(f"{server.url}/page/page.js")[2]
    assert fetch(f"{server.url}/page/page.js?name=../page_route.py")[2] == script
