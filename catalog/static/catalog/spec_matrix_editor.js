// The product page's spec dimensions (value chips) and the SKU matrix they span.
// Dimensions live in the hidden #id_spec_dimensions as JSON; the `matrix` formset holds one row per
// combination, first dimension slowest, as catalog/spec_matrix.py generates them. The server checks
// everything again: this script only saves staff from typing JSON and keeps typed rows when the
// matrix changes (a row taken out by removing a value comes back with what was typed in it).
"use strict"
;(() => {
  const PREFIX = "matrix"

  const specKey = (specs) => JSON.stringify(Object.entries(specs).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))

  const combinations = (dimensions) =>
    dimensions.reduce(
      (partial, dimension) =>
        partial.flatMap((specs) => dimension.values.map((value) => ({ ...specs, [dimension.name]: value }))),
      [{}],
    )

  const readJson = (text, fallback) => {
    try {
      return JSON.parse(text)
    } catch {
      return fallback
    }
  }

  const element = (tag, attributes = {}, text = "") => {
    const made = document.createElement(tag)
    for (const [name, value] of Object.entries(attributes)) made.setAttribute(name, value)
    if (text) made.textContent = text
    return made
  }

  const start = () => {
    const section = document.getElementById("spec-matrix")
    if (!section) return
    const text = section.dataset
    const hidden = section.querySelector("input[name=spec_dimensions]")
    const list = document.getElementById("spec-dimensions")
    const body = document.getElementById("spec-matrix-rows")
    const template = document.getElementById("spec-matrix-empty-row")
    const totalForms = section.querySelector(`input[name=${PREFIX}-TOTAL_FORMS]`)
    let dimensions = readJson(hidden.value || "[]", [])
    if (!Array.isArray(dimensions)) dimensions = []

    // Every row ever shown, by its specs, so a combination that comes back keeps what was typed.
    const rowsByKey = new Map()
    for (const row of body.querySelectorAll("tr.spec-matrix-row")) {
      const specs = readJson(row.querySelector(`input[name$=-specs]`).value, {})
      rowsByKey.set(specKey(specs), row)
    }

    const showSpecs = (row, specs) => {
      row.querySelector("input[name$=-specs]").value = JSON.stringify(specs)
      row.querySelector(".spec-matrix-values").replaceChildren(
        ...(Object.values(specs).length
          ? Object.values(specs).map((value) => element("span", { class: "spec-chip" }, value))
          : [element("span", { class: "spec-chip is-plain" }, text.textNoSpecs)]),
      )
    }

    const newRow = (specs) => {
      const row = template.content.querySelector("tr").cloneNode(true)
      showSpecs(row, specs)
      return row
    }

    const renumber = (row, index) => {
      const pattern = new RegExp(`^(id_)?${PREFIX}-(\\d+|__prefix__)-`)
      for (const field of row.querySelectorAll("[name], [id], label[for]")) {
        for (const attribute of ["name", "id", "for"]) {
          const value = field.getAttribute(attribute)
          if (value && pattern.test(value)) {
            field.setAttribute(attribute, value.replace(pattern, (_match, id) => `${id || ""}${PREFIX}-${index}-`))
          }
        }
      }
    }

    const rowSpecs = (row) => readJson(row.querySelector("input[name$=-specs]").value, {})

    // A row moved to other specs keeps what was typed in it (its code above all, by which the
    // server keeps the SKU, its stock and its history).
    const rowRespec = (row, specs) => {
      for (const [key, cached] of rowsByKey) if (cached === row) rowsByKey.delete(key)
      showSpecs(row, specs)
      rowsByKey.set(specKey(specs), row)
    }

    const syncMatrix = () => {
      hidden.value = JSON.stringify(dimensions)
      const wanted = combinations(dimensions)
      const wantedKeys = new Set(wanted.map(specKey))
      const rows = wanted.map((specs) => {
        const key = specKey(specs)
        if (!rowsByKey.has(key)) {
          // A dimension was added: the first combination that extends a row's specs takes that row.
          const extended = [...rowsByKey.entries()].find(
            ([cachedKey, row]) =>
              !wantedKeys.has(cachedKey) &&
              Object.entries(rowSpecs(row)).every(([name, value]) => specs[name] === value),
          )
          if (extended) rowRespec(extended[1], specs)
          else rowsByKey.set(key, newRow(specs))
        }
        return rowsByKey.get(key)
      })
      rows.forEach(renumber)
      body.replaceChildren(...rows)
      totalForms.value = String(rows.length)
    }

    const chip = (dimension, value) => {
      const item = element("li", { class: "spec-chip" }, value)
      const remove = element("button", { type: "button", class: "spec-chip-remove", "aria-label": `${text.textRemoveValue} ${value}` }, "×")
      remove.addEventListener("click", () => {
        dimension.values = dimension.values.filter((kept) => kept !== value)
        render()
      })
      item.append(remove)
      return item
    }

    const dimensionCard = (dimension) => {
      const card = element("div", { class: "spec-dimension" })
      const name = element("input", {
        type: "text",
        class: "spec-dimension-name",
        value: dimension.name,
        placeholder: text.textDimensionName,
        "aria-label": text.textDimensionName,
        maxlength: "20",
      })
      name.addEventListener("change", () => {
        const before = dimension.name
        dimension.name = name.value.trim()
        // A renamed dimension: every row keeps its value under the new name.
        if (before && before !== dimension.name) {
          for (const row of new Set(rowsByKey.values())) {
            const specs = rowSpecs(row)
            if (!(before in specs)) continue
            const { [before]: value, ...others } = specs
            rowRespec(row, { ...others, [dimension.name]: value })
          }
        }
        syncMatrix()
      })
      const values = element("ul", { class: "spec-values" })
      values.append(...dimension.values.map((value) => chip(dimension, value)))
      const newValue = element("input", {
        type: "text",
        class: "spec-value-new",
        placeholder: text.textNewValue,
        "aria-label": text.textNewValue,
        maxlength: "30",
      })
      const message = element("span", { class: "spec-value-message", role: "status" })
      const add = () => {
        const value = newValue.value.trim()
        if (!value) return
        if (dimension.values.includes(value)) {
          message.textContent = text.textDuplicateValue
          return
        }
        dimension.values.push(value)
        render(dimensions.indexOf(dimension))
      }
      newValue.addEventListener("keydown", (event) => {
        // Enter adds the value instead of submitting the product form.
        if (event.key === "Enter") {
          event.preventDefault()
          add()
        }
      })
      const addButton = element("button", { type: "button", class: "spec-button spec-value-add" }, text.textAddValue)
      addButton.addEventListener("click", add)
      const remove = element("button", { type: "button", class: "spec-button spec-dimension-remove" }, text.textRemoveDimension)
      remove.addEventListener("click", () => {
        dimensions = dimensions.filter((kept) => kept !== dimension)
        render()
      })
      card.append(name, values, newValue, addButton, remove, message)
      return card
    }

    // `focusNewValueOf`: the dimension whose value box keeps the focus, so values can be typed one after another.
    const render = (focusNewValueOf = null) => {
      list.replaceChildren(...dimensions.map(dimensionCard))
      syncMatrix()
      if (focusNewValueOf !== null) list.children[focusNewValueOf]?.querySelector(".spec-value-new")?.focus()
    }

    document.getElementById("spec-dimension-add").addEventListener("click", () => {
      dimensions.push({ name: "", values: [] })
      render()
      list.lastElementChild?.querySelector(".spec-dimension-name")?.focus()
    })
    render()
  }

  // A SKU's photo: the name of the file chosen beside our button (rows added later included).
  document.addEventListener("change", (event) => {
    const upload = event.target.closest?.(".spec-matrix-upload")
    const name = upload?.querySelector(".spec-matrix-upload-name")
    if (name && event.target.files?.length) name.textContent = event.target.files[0].name
  })

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start)
  else start()
})()
