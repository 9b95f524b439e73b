// The editor's Mini Program button: a card, a text link or an image link to a product (or any page) of
// the Mini Program linked to our Official Accounts, in the markup WeChat's draft content takes
// ("图文消息内插入小程序", 草稿箱 新建草稿 draft/add):
//   <mp-miniprogram data-miniprogram-appid data-miniprogram-path data-miniprogram-title data-miniprogram-imageurl>
//   <a data-miniprogram-appid data-miniprogram-path>text</a>, and the same <a> around an <img>.
// The server (articles/content.py) keeps them for our appid only and adds the article's campaign
// (c=a<id>) to each path when the article is saved. Every word staff read comes from the server,
// already translated (the targets URL answers them with the products).
import { Extension, Mark, Node } from "django-prose-editor/editor"

const dataAttribute = (name) => ({
  default: null,
  parseHTML: (element) => element.getAttribute(`data-miniprogram-${name}`),
  renderHTML: (attributes) => {
    const key = name === "imageurl" ? "imageUrl" : name
    return attributes[key] ? { [`data-miniprogram-${name}`]: attributes[key] } : {}
  },
})

const targetAttributes = () => ({ appid: dataAttribute("appid"), path: dataAttribute("path") })

export const MiniProgramCard = Node.create({
  name: "miniProgramCard",
  group: "block",
  atom: true,
  selectable: true,
  draggable: true,

  addAttributes() {
    return {
      ...targetAttributes(),
      title: dataAttribute("title"),
      imageUrl: {
        default: null,
        parseHTML: (element) => element.getAttribute("data-miniprogram-imageurl"),
        renderHTML: (attributes) =>
          attributes.imageUrl ? { "data-miniprogram-imageurl": attributes.imageUrl } : {},
      },
    }
  },

  parseHTML() {
    return [{ tag: "mp-miniprogram" }]
  },

  renderHTML({ HTMLAttributes }) {
    return ["mp-miniprogram", HTMLAttributes]
  },

  addNodeView() {
    // In the editor the card looks as it will in WeChat: the page's title over its picture.
    return ({ node }) => {
      const dom = document.createElement("div")
      dom.className = "wechat-mini-program-card"
      dom.contentEditable = "false"
      const title = document.createElement("p")
      title.textContent = node.attrs.title || node.attrs.path
      const image = document.createElement("img")
      image.src = node.attrs.imageUrl || ""
      image.alt = ""
      const path = document.createElement("small")
      path.textContent = node.attrs.path
      dom.append(title, image, path)
      // The picture loading changes this DOM; it is ours, not the document's: ProseMirror must not re-read it.
      return { dom, ignoreMutation: () => true }
    }
  },
})

export const MiniProgramImageLink = Node.create({
  name: "miniProgramImageLink",
  group: "block",
  atom: true,
  selectable: true,
  draggable: true,

  addAttributes() {
    return {
      ...targetAttributes(),
      src: {
        default: null,
        parseHTML: (element) => element.querySelector("img")?.getAttribute("src"),
        renderHTML: () => ({}),
      },
    }
  },

  parseHTML() {
    return [
      {
        tag: "a[data-miniprogram-appid]",
        priority: 70,
        getAttrs: (element) => (element.querySelector("img") ? {} : false),
      },
    ]
  },

  renderHTML({ node, HTMLAttributes }) {
    return ["a", HTMLAttributes, ["img", { src: node.attrs.src, alt: "" }]]
  },
})

export const MiniProgramLink = Mark.create({
  name: "miniProgramLink",
  priority: 1100,
  inclusive: false,

  addAttributes() {
    return targetAttributes()
  },

  parseHTML() {
    return [{ tag: "a[data-miniprogram-appid]", priority: 60 }]
  },

  renderHTML({ HTMLAttributes }) {
    return ["a", HTMLAttributes, 0]
  },
})

// The admin's jsi18n catalog is loaded before the editor; `make messages` finds the calls below.
const gettext = window.gettext || ((text) => text)

const fetchTargets = async (url) => {
  const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
  if (!response.ok) throw new Error(`${response.status}`)
  return response.json()
}

const field = (labelText, control) => {
  const label = document.createElement("label")
  label.className = "wechat-mini-program-field"
  const caption = document.createElement("span")
  caption.textContent = labelText
  label.append(caption, control)
  return label
}

const option = (value, text) => {
  const element = document.createElement("option")
  element.value = value
  element.textContent = text
  return element
}

// A <dialog> to pick what to insert; resolves with {kind, path, title, imageUrl} or null.
const pickTarget = (targets) =>
  new Promise((resolve) => {
    const { labels, products } = targets
    const dialog = document.createElement("dialog")
    dialog.className = "wechat-mini-program-dialog"
    const form = document.createElement("form")
    form.method = "dialog"

    const kind = document.createElement("select")
    kind.name = "kind"
    kind.append(
      option("card", labels.card),
      option("text", labels.text),
      option("image", labels.image),
    )
    const product = document.createElement("select")
    product.name = "product"
    product.append(option("", labels.any_page))
    for (const item of products) product.append(option(String(item.id), item.title))
    const page = document.createElement("input")
    page.name = "page"
    page.placeholder = "pages/index/index"
    const title = document.createElement("input")
    title.name = "title"
    const imageUrl = document.createElement("input")
    imageUrl.name = "image_url"
    imageUrl.type = "url"
    const problem = document.createElement("p")
    problem.className = "wechat-mini-program-problem"
    problem.setAttribute("role", "alert")

    product.addEventListener("change", () => {
      const chosen = products.find((item) => String(item.id) === product.value)
      page.disabled = Boolean(chosen)
      if (chosen) {
        page.value = chosen.path
        title.value = chosen.title
        imageUrl.value = chosen.image_url || ""
      }
    })

    const insert = document.createElement("button")
    insert.type = "submit"
    insert.value = "insert"
    insert.textContent = labels.insert
    const cancel = document.createElement("button")
    cancel.type = "submit"
    cancel.value = "cancel"
    cancel.textContent = labels.cancel

    form.append(
      field(labels.kind, kind),
      field(labels.product, product),
      field(labels.page, page),
      field(labels.title, title),
      field(labels.image_url, imageUrl),
      problem,
      insert,
      cancel,
    )
    dialog.append(form)
    document.body.append(dialog)

    form.addEventListener("submit", (event) => {
      if (event.submitter?.value !== "insert") return
      const path = page.value.trim()
      const needsImage = kind.value !== "text"
      const message = !/^[A-Za-z0-9_-]+(\/[A-Za-z0-9_-]+)*(\?[^\s#]*)?$/.test(path)
        ? labels.page_problem
        : needsImage && !/^https?:\/\//.test(imageUrl.value.trim())
          ? labels.image_problem
          : !title.value.trim()
            ? labels.title_problem
            : ""
      if (message) {
        event.preventDefault()
        problem.textContent = message
      }
    })
    dialog.addEventListener("close", () => {
      const chosen =
        dialog.returnValue === "insert"
          ? {
              kind: kind.value,
              path: page.value.trim(),
              title: title.value.trim(),
              imageUrl: imageUrl.value.trim(),
            }
          : null
      dialog.remove()
      resolve(chosen)
    })
    dialog.showModal()
  })

const report = (editor, message) => {
  const wrapper = editor.view.dom.closest(".prose-editor") || editor.view.dom.parentElement
  let line = wrapper.parentElement.querySelector(".wechat-mini-program-status")
  if (!line) {
    line = document.createElement("p")
    line.className = "wechat-mini-program-status is-error"
    line.setAttribute("role", "status")
    wrapper.after(line)
  }
  line.textContent = message
}

const insertTarget = (editor, appid, chosen) => {
  const target = { appid, path: chosen.path }
  const chain = editor.chain().focus()
  if (chosen.kind === "card") {
    chain.insertContent({ type: "miniProgramCard", attrs: { ...target, title: chosen.title, imageUrl: chosen.imageUrl } })
  } else if (chosen.kind === "image") {
    chain.insertContent({ type: "miniProgramImageLink", attrs: { ...target, src: chosen.imageUrl } })
  } else {
    chain.insertContent({ type: "text", text: chosen.title, marks: [{ type: "miniProgramLink", attrs: target }] })
  }
  chain.run()
}

// Configured as "WeChatMiniProgram": {"targetsUrl": ..., "buttonTitle": ...}.
export const WeChatMiniProgram = Extension.create({
  name: "weChatMiniProgram",

  addOptions() {
    return { targetsUrl: null, buttonTitle: "Mini Program" }
  },

  addExtensions() {
    return [MiniProgramCard, MiniProgramImageLink, MiniProgramLink]
  },

  addMenuItems({ menu, buttons }) {
    const { targetsUrl, buttonTitle } = this.options
    menu.defineItem({
      name: "wechatMiniProgram",
      groups: "nodes",
      button: buttons.material("storefront", buttonTitle),
      async command(editor) {
        let targets
        try {
          targets = await fetchTargets(targetsUrl)
        } catch {
          // A lost connection or a server error: say so rather than leave the button doing nothing.
          report(editor, gettext("The Mini Program's pages could not be loaded. Try again."))
          return
        }
        if (!targets.appid) {
          // No Mini Program is linked: say so instead of inserting what WeChat would drop.
          report(editor, targets.error)
          return
        }
        const chosen = await pickTarget(targets)
        if (chosen) insertTarget(editor, targets.appid, chosen)
      },
    })
  },
})
