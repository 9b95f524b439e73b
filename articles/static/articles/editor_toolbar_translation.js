// The editor's toolbar in the staff member's language. django-prose-editor 0.28 translates its dialogs
// with window.gettext (the admin's jsi18n catalog, loaded before the editor), but writes its toolbar
// buttons' titles ("bold", `heading ${level}`) and the block-type menu's options ("Paragraph") in
// English. Each is passed through the same gettext here; the msgids are listed in
// config/rich_text_editor_strings.js. Loaded as one of the editor's js_modules
// (config/rich_text_editor.py), so it listens before any editor is ready.
const translate = window.gettext || ((text) => text)

const translateMenubar = (menubar) => {
  for (const button of menubar.querySelectorAll("[title]")) {
    button.title = translate(button.title)
    if (button.hasAttribute("aria-label")) button.setAttribute("aria-label", translate(button.getAttribute("aria-label")))
  }
  // The block-type menu's face when the block is none of its options (a list item): a "?" icon without a
  // title, which a screen reader would call by its icon's name, "question_mark".
  for (const button of menubar.querySelectorAll(".prose-menubar__selected button[title='']")) {
    button.title = translate("Other block type")
    button.setAttribute("aria-label", button.title)
  }
  for (const option of menubar.querySelectorAll(".prose-menubar__option > *")) {
    const translated = translate(option.textContent)
    // Only a change: writing the same text would wake the observer below again, for ever.
    if (translated !== option.textContent) option.textContent = translated
  }
}

document.addEventListener("prose-editor:ready", (event) => {
  const wrapper = event.target.closest(".prose-editor")
  const translateToolbar = () => {
    const menubar = wrapper.querySelector(".prose-menubar")
    if (menubar) translateMenubar(menubar)
  }
  translateToolbar()
  // The toolbar is drawn after the ready event, and the block-type menu shows a fresh (English) copy of
  // the current block's button as the cursor moves: translate again on every change (a few dozen
  // elements, so typing stays cheap).
  new MutationObserver(translateToolbar).observe(wrapper, { childList: true, subtree: true })
})
