// The inpainting page of `keras-inpaint serve` (keras_inpaint/serving/page_route.py).
//
// It reads the served models and the request limits from /page/settings.json,
// scales a photo down to fit them, lets the hole be painted on a mask canvas
// (1 = hole: white in the mask file), and sends the photo and the mask as PNG
// files to POST /v1/models/<name>:predict, signature inpaint_bytes.
"use strict";

const SETTINGS_URL = "/page/settings.json";
const SIGNATURE = "inpaint_bytes";
const UNDO_STEPS = 30;
// Mask pixels at least this opaque are holes: the brush's soft edge is cut here, and
// the mask file holds 0 and 255 only.
const HOLE_ALPHA = 128;
const BRUSH_COLOUR = "rgb(255, 40, 40)";

const page = {
  settings: null,
  maxSide: null,
  maxPixels: Infinity,
  undo: [],
  drawing: false,
  last: null,
  busy: false,
};

const $ = (id) => document.getElementById(id);

function showMessage(text, isError = false) {
  const message = $("message");
  message.textContent = text;
  message.classList.toggle("error", isError);
}

function megabytes(bytes) {
  return `${(bytes / 2 ** 20).toFixed(1)} MB`;
}

// ---- server settings -------------------------------------------------------------

async function readSettings() {
  let answer;
  try {
    answer = await fetch(SETTINGS_URL, { cache: "no-cache" });
  } catch (error) {
    throw new Error(`the server did not answer (${error.message}); is keras-inpaint serve running?`);
  }
  if (!answer.ok) {
    throw new Error(`${SETTINGS_URL} answered HTTP ${answer.status}`);
  }
  return answer.json();
}

function modelLabel(model) {
  const side = model.max_side ? `, up to ${model.max_side} px` : "";
  return `${model.name} (version ${model.version}${side})`;
}

function applySettings(settings) {
  page.settings = settings;
  const select = $("model");
  select.replaceChildren(
    ...settings.models.map((model) => new Option(modelLabel(model), model.name)),
  );
  select.disabled = settings.models.length < 2;
  // A photo is scaled once, to fit every served model: the strictest limits apply.
  const sides = settings.models.map((model) => model.max_side).filter((side) => side);
  page.maxSide = sides.length ? Math.min(...sides) : null;
  page.maxPixels = settings.max_pixels;
  const side = page.maxSide ? `${page.maxSide} px on a side and ` : "";
  $("limits").textContent =
    `This server takes photos of at most ${side}${settings.max_pixels.toLocaleString("en")} ` +
    `pixels, in requests of at most ${megabytes(settings.max_request_bytes)}; larger photos ` +
    "are scaled down to fit.";
}

// ---- photo -----------------------------------------------------------------------

function fittedSize(width, height) {
  let scale = 1;
  if (page.maxSide) {
    scale = Math.min(scale, page.maxSide / Math.max(width, height));
  }
  scale = Math.min(scale, Math.sqrt(page.maxPixels / (width * height)));
  let fitted = [Math.max(1, Math.floor(width * scale)), Math.max(1, Math.floor(height * scale))];
  while (fitted[0] * fitted[1] > page.maxPixels && fitted[0] > 1 && fitted[1] > 1) {
    fitted = [fitted[0] - 1, fitted[1] - 1];
  }
  return fitted;
}

function decodeImage(file) {
  return new Promise((resolve, reject) => {
    const url = URL.createObjectURL(file);
    const image = new Image();
    image.onload = () => {
      URL.revokeObjectURL(url);
      resolve(image);
    };
    image.onerror = () => {
      URL.revokeObjectURL(url);
      reject(new Error(`${file.name} could not be read as an image; open a PNG or JPEG photo`));
    };
    image.src = url;
  });
}

async function openPhoto(file) {
  if (!file) {
    return;
  }
  if (!page.settings) {
    showMessage("The server's settings are not read yet; reload the page.", true);
    return;
  }
  let image;
  try {
    image = await decodeImage(file);
  } catch (error) {
    showMessage(error.message, true);
    return;
  }
  const [width, height] = [image.naturalWidth, image.naturalHeight];
  const [fitWidth, fitHeight] = fittedSize(width, height);
  const photo = $("photo");
  const mask = $("mask");
  photo.width = mask.width = fitWidth;
  photo.height = mask.height = fitHeight;
  const context = photo.getContext("2d");
  context.imageSmoothingQuality = "high";
  context.drawImage(image, 0, 0, fitWidth, fitHeight);
  page.undo = [];
  $("stage").hidden = false;
  $("drop-hint").hidden = true;
  $("result").hidden = true;
  updateButtons();
  if (fitWidth === width && fitHeight === height) {
    showMessage(`${file.name}: ${width} x ${height} px. Paint over what should be filled in.`);
  } else {
    showMessage(
      `${file.name} is ${width} x ${height} px, more than this server takes; it was scaled ` +
        `down to ${fitWidth} x ${fitHeight} px. Paint over what should be filled in.`,
    );
  }
}

// ---- brush -----------------------------------------------------------------------

function maskContext() {
  return $("mask").getContext("2d", { willReadFrequently: true });
}

function canvasPoint(event) {
  const mask = $("mask");
  const box = mask.getBoundingClientRect();
  return {
    x: ((event.clientX - box.left) * mask.width) / box.width,
    y: ((event.clientY - box.top) * mask.height) / box.height,
    scale: mask.width / box.width,
  };
}

function strokeTo(point) {
  const context = maskContext();
  const eraser = $("tool-eraser").checked;
  context.globalCompositeOperation = eraser ? "destination-out" : "source-over";
  context.strokeStyle = BRUSH_COLOUR;
  context.lineWidth = Number($("brush-size").value) * point.scale;
  context.lineCap = context.lineJoin = "round";
  context.beginPath();
  const from = page.last || point;
  context.moveTo(from.x, from.y);
  context.lineTo(point.x, point.y);
  context.stroke();
  page.last = point;
}

function rememberMask() {
  const mask = $("mask");
  page.undo.push(maskContext().getImageData(0, 0, mask.width, mask.height));
  if (page.undo.length > UNDO_STEPS) {
    page.undo.shift();
  }
  updateButtons();
}

function startStroke(event) {
  if (event.button !== 0 || page.busy) {
    return;
  }
  event.preventDefault();
  $("mask").setPointerCapture(event.pointerId);
  rememberMask();
  page.drawing = true;
  page.last = null;
  strokeTo(canvasPoint(event));
}

function continueStroke(event) {
  if (page.drawing) {
    strokeTo(canvasPoint(event));
  }
}

function endStroke() {
  page.drawing = false;
  page.last = null;
}

function undo() {
  const previous = page.undo.pop();
  if (previous) {
    maskContext().putImageData(previous, 0, 0);
  }
  updateButtons();
}

function clearMask() {
  rememberMask();
  const mask = $("mask");
  maskContext().clearRect(0, 0, mask.width, mask.height);
}

function updateButtons() {
  const hasPhoto = !$("stage").hidden;
  $("undo").disabled = page.busy || page.undo.length === 0;
  $("clear").disabled = page.busy || !hasPhoto;
  $("inpaint").disabled = page.busy || !hasPhoto || !page.settings?.models.length;
}

// ---- request ---------------------------------------------------------------------

// The painted mask as a PNG data URL: white (255) = hole, black (0) = known.
function maskFileUrl() {
  const mask = $("mask");
  const painted = maskContext().getImageData(0, 0, mask.width, mask.height);
  const file = document.createElement("canvas");
  file.width = mask.width;
  file.height = mask.height;
  const context = file.getContext("2d");
  const pixels = context.createImageData(mask.width, mask.height);
  let holes = 0;
  for (let index = 3; index < painted.data.length; index += 4) {
    const value = painted.data[index] >= HOLE_ALPHA ? 255 : 0;
    holes += value ? 1 : 0;
    pixels.data.fill(value, index - 3, index);
    pixels.data[index] = 255;
  }
  context.putImageData(pixels, 0, 0);
  return { url: file.toDataURL("image/png"), holes };
}

function base64Of(dataUrl) {
  return dataUrl.slice(dataUrl.indexOf(",") + 1);
}

async function predict(model, imageUrl, maskUrl) {
  const body = JSON.stringify({
    signature_name: SIGNATURE,
    instances: [{ image_bytes: { b64: base64Of(imageUrl) }, mask_bytes: { b64: base64Of(maskUrl) } }],
  });
  const limit = page.settings.max_request_bytes;
  if (body.length > limit) {
    throw new Error(
      `the request would be ${megabytes(body.length)}, over this server's limit of ` +
        `${megabytes(limit)} (keras-inpaint serve --max-request-bytes); open a smaller photo`,
    );
  }
  let answer;
  try {
    answer = await fetch(`/v1/models/${encodeURIComponent(model)}:predict`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body,
    });
  } catch (error) {
    throw new Error(`the server did not answer (${error.message}); is it still running?`);
  }
  const reply = await answer.json().catch(() => ({}));
  if (!answer.ok) {
    throw new Error(`the server answered HTTP ${answer.status}: ${reply.error || answer.statusText}`);
  }
  return `data:image/png;base64,${reply.predictions[0].b64}`;
}

async function inpaint() {
  const { url: maskUrl, holes } = maskFileUrl();
  if (holes === 0) {
    showMessage("Paint the hole first: brush over what should be filled in.", true);
    return;
  }
  const model = $("model").value;
  const imageUrl = $("photo").toDataURL("image/png");
  page.busy = true;
  updateButtons();
  showMessage(`Inpainting with ${model}…`);
  try {
    const resultUrl = await predict(model, imageUrl, maskUrl);
    showResult(imageUrl, maskUrl, resultUrl);
    showMessage(`Inpainted with ${model}. Drag the slider to compare; download the PNG below.`);
  } catch (error) {
    showMessage(`Not inpainted: ${error.message}.`, true);
  } finally {
    page.busy = false;
    updateButtons();
  }
}

// ---- result ----------------------------------------------------------------------

function showCompare() {
  const shown = Number($("compare").value);
  $("after").style.clipPath = `inset(0 ${100 - shown}% 0 0)`;
}

function showResult(imageUrl, maskUrl, resultUrl) {
  $("before").src = imageUrl;
  $("after").src = resultUrl;
  $("download").href = resultUrl;
  $("download-mask").href = maskUrl;
  $("result").hidden = false;
  $("result").dataset.ready = "true";
  showCompare();
}

// ---- wiring ----------------------------------------------------------------------

function wireDropZone() {
  const zone = $("drop-zone");
  zone.addEventListener("dragover", (event) => {
    event.preventDefault();
    zone.classList.add("dragging");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("dragging"));
  zone.addEventListener("drop", (event) => {
    event.preventDefault();
    zone.classList.remove("dragging");
    openPhoto(event.dataTransfer.files[0]);
  });
}

function wire() {
  $("photo-file").addEventListener("change", (event) => openPhoto(event.target.files[0]));
  wireDropZone();
  const mask = $("mask");
  mask.addEventListener("pointerdown", startStroke);
  mask.addEventListener("pointermove", continueStroke);
  mask.addEventListener("pointerup", endStroke);
  mask.addEventListener("pointercancel", endStroke);
  $("brush-size").addEventListener("input", (event) => {
    $("brush-size-value").textContent = event.target.value;
  });
  $("undo").addEventListener("click", undo);
  $("clear").addEventListener("click", clearMask);
  $("inpaint").addEventListener("click", inpaint);
  $("compare").addEventListener("input", showCompare);
  document.addEventListener("keydown", (event) => {
    if ((event.ctrlKey || event.metaKey) && event.key === "z" && !page.busy) {
      event.preventDefault();
      undo();
    }
  });
}

async function start() {
  wire();
  try {
    applySettings(await readSettings());
    document.body.dataset.ready = "true";
  } catch (error) {
    $("limits").textContent = "";
    showMessage(`This page could not read the server's settings: ${error.message}.`, true);
  }
  updateButtons();
}

start();
