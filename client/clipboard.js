// Copy text to the clipboard, and save text as a file. DOM only.

/** Copy `text`; resolves whether it worked (the Clipboard API, else the old way). */
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const area = document.createElement("textarea");
    area.value = text; document.body.append(area); area.select();
    const ok = document.execCommand("copy");
    area.remove();
    return ok;
  }
}

/** Offer `text` as a download named `name`, of type `mime`. */
export function downloadText(text, name, mime) {
  const a = document.createElement("a");
  a.href = URL.createObjectURL(new Blob([text], { type: `${mime};charset=utf-8` }));
  a.download = name;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10_000);
}
