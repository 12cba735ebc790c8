-- pandoc filter: a guide of docs/*.md as an antsibull-docs extra doc (tests/docsite.py runs it).
-- The guide's page gets the label ansible_collections.meshops.multicluster.docsite.<basename> (what
-- module seealso entries point at), each heading <that label>.<GitHub anchor>, and the Markdown links
-- between guides (`quickstart.md`, `operations.md#rollouts`, `#uninstall`) become :ref: links to
-- those labels, so they work on the docsite as they do on GitHub/Galaxy.
local PREFIX = "ansible_collections.meshops.multicluster.docsite."

local page = PREFIX .. (PANDOC_STATE.input_files[1]:match("([^/]+)%.md$"))

local function label(guide, anchor)
  local target = guide and (PREFIX .. guide) or page
  if anchor and anchor ~= "" then
    target = target .. "." .. anchor
  end
  return target
end

-- A link that reads as a file name (`permissions.md`) shows the page's title instead. RST interpreted
-- text ends at a backtick and takes <...> as the target: keep both out of a title.
local function ref(text, target)
  if text:match("%.md$") then
    return pandoc.RawInline("rst", ":ref:`" .. target .. "`")
  end
  local title = text:gsub("[`<>]", "")
  return pandoc.RawInline("rst", ":ref:`" .. title .. " <" .. target .. ">`")
end

-- pandoc writes a heading's identifier as the RST label before it.
function Header(el)
  el.identifier = el.level == 1 and page or label(nil, el.identifier)
  return el
end

function Link(el)
  local text = pandoc.utils.stringify(el.content)
  local guide, anchor = el.target:match("^([%w_-]+)%.md#?(.*)$")
  if guide then
    return ref(text, label(guide, anchor))
  end
  anchor = el.target:match("^#(.+)$")
  if anchor then
    return ref(text, label(nil, anchor))
  end
  if not el.target:match("^https?://") then
    error(page .. ": link to " .. el.target .. " has no place on the docsite (link a guide or a URL)")
  end
  return el
end

-- A fence without a language is plain text on GitHub; Sphinx would highlight it as YAML+Jinja.
function CodeBlock(el)
  if #el.classes == 0 then
    el.classes = { "text" }
  end
  return el
end
