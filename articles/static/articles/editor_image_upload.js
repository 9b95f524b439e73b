// The editor's image button: the photo goes to our admin (articles/images/ under MEDIA_ROOT), which
// answers its URL, or why WeChat could never take it. Pasted or dropped image files go the same way.
import { Image, Plugin } from "django-prose-editor/editor"

const ACCEPTED = "image/jpeg,image/png,image/gif,image/webp"

const csrfToken = () =>
  document.querySelector("[name=csrfmiddlewaretoken]")?.value || ""

const statusLine = (editor) => {
  const wrapper = editor.view.dom.closest(".prose-editor") || editor.view.dom.parentElement
  let line = wrapper.parentElement.querySelector(".wechat-image-status")
  if (!line) {
    line = document.createElement("p")
    line.className = "wechat-image-status"
    line.setAttribute("role", "status")
    wrapper.after(line)
  }
  return line
}

const report = (editor, message, isError = false) => {
  const line = statusLine(editor)
  line.textContent = message
  line.classList.toggle("is-error", isError)
}

const uploadOne = async (file, uploadUrl, messages) => {
  const body = new FormData()
  body.append("image", file)
  const response = await fetch(uploadUrl, {
    method: "POST",
    body,
    headers: { "X-CSRFToken": csrfToken() },
    credentials: "same-origin",
  })
  let answer = {}
  try {
    answer = await response.json()
  } catch {
    // Not JSON (a proxy's error page): say so below.
  }
  if (!response.ok) {
    throw new Error(answer.error || say(messages, "failed", { status: response.status }))
  }
  return answer.url
}

const uploadAndInsert = async (editor, files, { uploadUrl, messages }) => {
  for (const file of files) {
    report(editor, say(messages, "uploading", { name: file.name }))
    try {
      const url = await uploadOne(file, uploadUrl, messages)
      editor.chain().focus().setImage({ src: url, alt: "" }).run()
      report(editor, say(messages, "inserted", { name: file.name }))
    } catch (error) {
      report(editor, `${file.name}: ${error.message}`, true)
    }
  }
}

// The wording comes from the editor's config, translated by Django (config/rich_text_editor.py).
const say = (messages, key, values = {}) =>
  (messages?.[key] || key).replace(/\{(\w+)\}/g, (whole, name) => values[name] ?? whole)

const imageFiles = (fileList) =>
  Array.from(fileList || []).filter((file) => file.type.startsWith("image/"))

export const WeChatImage = Image.extend({
  addOptions() {
    return { ...this.parent?.(), uploadUrl: null, messages: {} }
  },

  addMenuItems({ menu, buttons }) {
    const options = this.options
    const input = document.createElement("input")
    input.type = "file"
    input.accept = ACCEPTED
    input.multiple = true
    input.hidden = true
    input.className = "wechat-image-input"
    let target = null
    input.addEventListener("change", () => {
      const files = imageFiles(input.files)
      input.value = ""
      if (target && files.length) uploadAndInsert(target, files, options)
    })

    menu.defineItem({
      name: "wechatImage",
      groups: "nodes",
      button: buttons.material("image", say(options.messages, "button")),
      command(editor) {
        target = editor
        if (!input.isConnected) editor.view.dom.parentElement.append(input)
        input.click()
      },
    })
  },

  addProseMirrorPlugins() {
    const extension = this
    const handleFiles = (files) => {
      const images = imageFiles(files)
      if (!images.length) return false
      uploadAndInsert(extension.editor, images, extension.options)
      return true
    }
    return [
      ...(this.parent?.() || []),
      new Plugin({
        props: {
          handlePaste: (_view, event) => handleFiles(event.clipboardData?.files),
          handleDrop: (_view, event) => handleFiles(event.dataTransfer?.files),
        },
      }),
    ]
  },
})
