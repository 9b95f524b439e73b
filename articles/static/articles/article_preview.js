// The article change page's phone preview: re-rendered by the server (cleaned content) as staff type.
;(() => {
  const frame = document.getElementById("article-phone-preview")
  if (!frame) return
  const form = frame.closest("form")
  const csrfToken = form.querySelector("[name=csrfmiddlewaretoken]").value
  let coverUrl = frame.dataset.coverUrl || ""
  let timer = null
  let latest = 0

  const render = async () => {
    const body = new FormData()
    for (const name of ["title", "author", "content"]) {
      body.append(name, form.elements[name]?.value || "")
    }
    const request = ++latest
    const response = await fetch(frame.dataset.renderUrl, {
      method: "POST",
      body,
      headers: { "X-CSRFToken": csrfToken },
      credentials: "same-origin",
    })
    // A slower, older answer must not replace a newer one.
    if (!response.ok || request !== latest) return
    const html = await response.text()
    const scrolled = frame.contentWindow?.scrollY || 0
    frame.addEventListener(
      "load",
      () => {
        const cover = frame.contentDocument?.getElementById("cover")
        if (cover && coverUrl) {
          cover.src = coverUrl
          cover.hidden = false
        }
        frame.contentWindow?.scrollTo(0, scrolled)
        frame.dataset.rendered = String(request)
      },
      { once: true },
    )
    frame.srcdoc = html
  }

  const renderSoon = () => {
    clearTimeout(timer)
    timer = setTimeout(render, 250)
  }

  form.addEventListener("input", renderSoon)
  form.addEventListener("change", (event) => {
    const field = event.target
    if (field.name === "cover" && field.files?.[0]) {
      coverUrl = URL.createObjectURL(field.files[0])
    }
    renderSoon()
  })
  render()
})()
