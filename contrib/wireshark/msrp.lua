-- Wireshark dissector for MSRP, the Messaging and Simple File Transfer Protocol (strict
-- profile, see SPEC.md of https://github.com/... msrp). Not RFC 4975's MSRP.
--
-- Install: copy to ~/.local/lib/wireshark/plugins/ (or run tshark -X lua_script:msrp.lua).
-- Port: Edit > Preferences > Protocols > MSRPFT, or `-o msrpft.port:9000` (default 8080).
-- Profile: `-o msrpft.profile:legacy` decodes the legacy dialect (SPEC.md §8) instead of the
-- strict profile; each TCP segment is then read as one write (see "Legacy profile" below),
-- and streams are selected by the port preference (the heuristic stays strict-only).
-- Any other port: streams are also recognised by content (a heuristic dissector on TCP, see
-- the end of this file), so a capture from random ports decodes with no setup.
--
-- Decodes the login and all five opcodes in both directions, reassembles frames split
-- across TCP segments, and follows relayed file bodies (the `size` bytes after a relay-mode
-- FILE header) so that body bytes are never mistaken for frames.

-- Wireshark already has "msrp" (RFC 4975), so the protocol is registered as "msrpft"; its
-- fields keep the short `msrp.` prefix (msrp.opcode, msrp.name, ...), which RFC 4975's
-- dissector does not use for any of these names.
local msrp = Proto("msrpft", "MSRP (Messaging and Simple File Transfer Protocol, not RFC 4975)")

local OPS = { [1] = "MSG", [2] = "FILE", [3] = "LIST", [4] = "ACK", [5] = "ERROR" }

local f = msrp.fields
f.frame    = ProtoField.string("msrp.frame", "Frame")
f.opcode   = ProtoField.uint16("msrp.opcode", "Opcode", base.DEC, OPS)
f.login    = ProtoField.string("msrp.login", "Login name")
f.name     = ProtoField.string("msrp.name", "Name")
f.text     = ProtoField.string("msrp.text", "Text", base.UNICODE)
f.filename = ProtoField.string("msrp.filename", "Filename", base.UNICODE)
f.size     = ProtoField.uint64("msrp.size", "Size", base.DEC)
f.port     = ProtoField.uint32("msrp.port", "Port", base.DEC)
f.ip       = ProtoField.string("msrp.ip", "IP")
f.mode     = ProtoField.string("msrp.mode", "Mode")
f.reason   = ProtoField.string("msrp.reason", "Reason")
f.body     = ProtoField.bytes("msrp.body", "Body bytes")
f.body_len = ProtoField.uint32("msrp.body_len", "Body bytes in this segment")
f.body_left = ProtoField.uint64("msrp.body_left", "Body bytes still to come")

local e_malformed = ProtoExpert.new("msrp.malformed", "Not a valid MSRP frame",
    expert.group.MALFORMED, expert.severity.WARN)
msrp.experts = { e_malformed }

msrp.prefs.port = Pref.uint("TCP port", 8080, "TCP port of the MSRP server")

-- Which dialect the streams speak (SPEC.md §8): `-o msrpft.profile:legacy` decodes the
-- circulating dialect (LEG-1…LEG-13) instead of the strict profile.
local PROFILE_STRICT, PROFILE_LEGACY = 0, 1
msrp.prefs.profile = Pref.enum("Profile", PROFILE_STRICT,
    "Dialect of the streams: strict (SPEC.md) or legacy (SPEC.md §8; each TCP segment is read as one write)",
    { { 1, "strict", PROFILE_STRICT }, { 2, "legacy", PROFILE_LEGACY } }, false)

local function legacy_profile()
    return msrp.prefs.profile == PROFILE_LEGACY
end

-- Per direction of each TCP conversation: { login_done, body_left, broken }.
local streams = {}
-- State at the start of each (packet, tvb length) seen, so revisits decode the same way.
local saved = {}

local tcp_stream_f = Field.new("tcp.stream")

-- Streams recognised by content (the heuristic at the end of this file): tcp.stream ->
-- { port = server port, state = "candidate" | "confirmed" | "rejected" }.
local heur = {}
-- P2P offers seen in S->C FILE frames: listening port -> file size, so the side stream
-- to that port can be shown as the file's body.
local p2p_offers = {}

-- true: an opcode 1..5 at `at`; false: not one; nil: too few bytes to tell yet.
local function valid_opcode(raw, at)
    if #raw <= at then return nil end
    local hi, lo = string.byte(raw, at + 1, at + 2)
    if hi ~= 0 then return false end
    if lo == nil then return nil end
    return lo >= 1 and lo <= 5
end

-- A candidate stream is confirmed by a payload after its login that starts with a valid
-- opcode, in either direction. It is dropped when the server's first payload does not
-- (a client's invalid frame alone proves nothing: testing servers with them is the point
-- of the suite, and the server's ERROR then confirms the stream).
local function heur_check(h, tvb, pinfo, to_server)
    if h.state ~= "candidate" or pinfo.visited then return end
    if h.login_at ~= nil and pinfo.number > h.login_at then
        local ok = valid_opcode(tvb:raw(0, math.min(tvb:len(), 2)), 0)
        if ok then
            h.state = "confirmed"
        elseif ok == false and not to_server then
            h.state = "rejected"
        end
    end
end

local function to_server_of(pinfo)
    local h = heur[tostring(tcp_stream_f())]
    if h ~= nil then return pinfo.dst_port == h.port end
    return pinfo.dst_port == msrp.prefs.port
end

local function copy(s)
    return { login_done = s.login_done, body_left = s.body_left, broken = s.broken,
             block_left = s.block_left, block_body = s.block_body }
end

-- Offset just past the 0x00 ending the string at `at`, or nil if it has not arrived.
local function cstring_end(raw, at)
    local i = string.find(raw, "\0", at + 1, true)
    if i == nil then return nil end
    return i -- 1-based index of the NUL == 0-based offset just past it
end

local function add_string(tree, field, tvb, from, to)
    -- `to` is the 0-based offset of the NUL; the string is [from, to). Text is UTF-8.
    if to > from then
        tree:add_packet_field(field, tvb(from, to - from), ENC_UTF_8)
    else
        tree:add(field, "")
    end
end

-- The string at `at` (a filename, an ACK filename or an ip) limited to `max` bytes: returns
-- the offset just past its NUL, nil if it may still arrive, false if it is too long.
local function bounded_end(raw, at, max)
    local e = cstring_end(raw, at)
    if e == nil then
        if #raw - at > max then return false end
        return nil
    end
    if e - 1 - at > max then return false end
    return e
end

-- FILE-6: a filename is 1..255 bytes, without '/' or '\', and is not "." or "..".
local function valid_filename(name)
    return #name >= 1 and not string.find(name, "[/\\]") and name ~= "." and name ~= ".."
end

local function malformed(tree, tvb, off, why)
    local t = tree:add(msrp, tvb(off), "MSRP undecodable bytes")
    t:add_proto_expert_info(e_malformed, why)
    return false
end

-- Parses one frame at `off`. Returns the offset after it, nil if more bytes are needed,
-- or false if the bytes are not a valid frame.
local function frame(tvb, raw, off, to_server, st, tree, info)
    local len = tvb:len()
    if len - off < 2 then return nil end
    local op = tvb(off, 2):uint()
    local name = OPS[op]
    if name == nil then
        return malformed(tree, tvb, off, string.format("opcode %d is not 1..5 (ERR-2)", op))
    end
    local p = off + 2
    local ends = {}
    if op == 1 or op == 2 then
        if len - p < 4 then return nil end
        p = p + 4
    end
    local fixed_at
    if op == 2 then
        local e1 = bounded_end(raw, p, 255)
        if e1 == nil then return nil end
        if e1 == false then return malformed(tree, tvb, off, "filename longer than 255 bytes (FILE-6)") end
        if not valid_filename(string.sub(raw, p + 1, e1 - 1)) then
            return malformed(tree, tvb, off, "invalid filename (FILE-6)")
        end
        ends[1] = { p, e1 - 1 }
        p = e1
        if len - p < 12 then return nil end
        fixed_at = p
        if tvb(p + 8, 4):uint() > 65535 then
            return malformed(tree, tvb, off, "port above 65535 (FILE-4)")
        end
        p = p + 12
        local e2 = bounded_end(raw, p, 45)
        if e2 == nil then return nil end
        if e2 == false then return malformed(tree, tvb, off, "ip longer than 45 bytes (FILE-1)") end
        ends[2] = { p, e2 - 1 }
        p = e2
    elseif op == 4 then
        local e1 = bounded_end(raw, p, 255)
        if e1 == nil then return nil end
        if e1 == false then return malformed(tree, tvb, off, "ACK filename longer than 255 bytes") end
        ends[1] = { p, e1 - 1 }
        p = e1
    elseif op == 3 and to_server then
        -- a bare request
    else
        local e1 = cstring_end(raw, p); if e1 == nil then return nil end
        ends[1] = { p, e1 - 1 }
        p = e1
    end
    local t = tree:add(msrp, tvb(off, p - off), "MSRP " .. name)
    t:add(f.frame, name)
    t:add(f.opcode, tvb(off, 2))
    local summary = name
    if op == 1 then
        t:add(f.name, tvb(off + 2, 4))
        add_string(t, f.text, tvb, ends[1][1], ends[1][2])
        summary = summary .. " " .. tvb(off + 2, 4):string()
    elseif op == 2 then
        t:add(f.name, tvb(off + 2, 4))
        add_string(t, f.filename, tvb, ends[1][1], ends[1][2])
        t:add(f.size, tvb(fixed_at, 8))
        t:add(f.port, tvb(fixed_at + 8, 4))
        add_string(t, f.ip, tvb, ends[2][1], ends[2][2])
        local size = tvb(fixed_at, 8):uint64():tonumber()
        local port = tvb(fixed_at + 8, 4):uint()
        if port == 0 then
            t:add(f.mode, "relay")
            st.body_left = size
        else
            t:add(f.mode, "p2p")
            if not to_server then p2p_offers[port] = size end
        end
        summary = summary .. " " .. tvb(off + 2, 4):string() .. " " .. size .. " bytes"
    elseif op == 3 then
        if not to_server then add_string(t, f.text, tvb, ends[1][1], ends[1][2]) end
    elseif op == 4 then
        add_string(t, f.filename, tvb, ends[1][1], ends[1][2])
    elseif op == 5 then
        add_string(t, f.text, tvb, ends[1][1], ends[1][2])
        local text = ""
        if ends[1][2] > ends[1][1] then text = tvb(ends[1][1], ends[1][2] - ends[1][1]):string() end
        local reason = string.match(text, "^([%a%-]+): ")
        if reason ~= nil and not to_server then
            t:add(f.reason, reason)
            summary = summary .. " " .. reason
        end
    end
    table.insert(info, summary)
    return p
end

-- Legacy profile (SPEC.md §8, legacy-profile.md, LEG-1…LEG-13) --------------------------
-- The dialect has no framing of its own: a sender writes one frame per write and a receiver
-- takes one read for one frame (LEG-2, LEG-12). A dissector sees segments, not writes or
-- reads, so under this profile it reads **one TCP segment as one unit**. That holds for the
-- pcaps msrp-check writes (each write it made, and each read it took, is its own segment)
-- and for most live loopback captures of paced conversations; a capture where the stack
-- merged two writes into one segment shows them as one unit, as the receiver would have read
-- them. Inside a unit a new frame starts at a 0x00 followed by an opcode byte 1..5 (no field
-- of the dialect contains 0x00), as the project's codec splits coalesced frames (LEG-3).
-- What spans segments is tracked: a relayed FILE's 2048-byte block (LEG-8) and every
-- relayed body (LEG-5), like the strict path's bodies.

local LEG_BLOCK = 2048
local LIST_HEAD = "Lista de clientes:"

-- Offset (0-based) where the frame starting at `off` ends: the next 0x00 followed by an
-- opcode byte 1..5 at or after `from`, else the end of the segment.
local function leg_unit_end(raw, off, from)
    local s = string.find(raw, "\0[\1-\5]", from + 1)
    if s ~= nil and s - 1 > off then return s - 1 end
    return #raw
end

-- The end (exclusive) of a field without the one trailing 0x00 or '\n' LEG-2 tolerates.
local function strip_trailer(raw, from, to)
    if to > from then
        local last = string.byte(raw, to)
        if last == 0 or last == 10 then return to - 1 end
    end
    return to
end

-- The end (exclusive) of a bare text: up to its first 0x00, without one trailing '\n'.
local function text_end(raw, from, to)
    local nul = string.find(raw, "\0", from + 1, true)
    if nul ~= nil and nul - 1 < to then to = nul - 1 end
    if to > from and string.byte(raw, to) == 10 then to = to - 1 end
    return to
end

-- A decimal ASCII number that fits `max_digits` digits and is at most `max` (a string of
-- the same length compares as the number does): returns the digits, or nil.
local function decimal(s, max)
    if #s == 0 or string.find(s, "%D") then return nil end
    local digits = string.gsub(s, "^0+(%d)", "%1")
    if #digits > #max or (#digits == #max and digits > max) then return nil end
    return digits
end

local function uint64_of(digits)
    local v = UInt64.new(0)
    for i = 1, #digits do
        v = v * 10 + (string.byte(digits, i) - 48)
    end
    return v
end

-- The fields of a FILE header in [from, to): `TO FILENAME SIZE` (relay) or
-- `TO FILENAME SIZE PORT IP` (P2P) (LEG-5). Returns a table of { from, to } per field and
-- the parsed values, or nil and why.
local function leg_file_fields(raw, from, to)
    local fields = {}
    local at = from
    while true do
        local sp = string.find(raw, " ", at + 1, true)
        if sp == nil or sp - 1 >= to then
            table.insert(fields, { at, to })
            break
        end
        table.insert(fields, { at, sp - 1 })
        at = sp
    end
    if #fields ~= 3 and #fields ~= 5 then
        return nil, string.format("FILE header has %d field(s), not TO FILENAME SIZE [PORT IP] (LEG-5)", #fields)
    end
    local function text(i) return string.sub(raw, fields[i][1] + 1, fields[i][2]) end
    local name_len = fields[1][2] - fields[1][1]
    if name_len < 1 or name_len > 4 then return nil, "name of " .. name_len .. " bytes (LEG-5)" end
    local filename = text(2)
    if #filename > 255 then return nil, "filename longer than 255 bytes (FILE-6)" end
    if not valid_filename(filename) then return nil, "invalid filename (FILE-6)" end
    local size = decimal(text(3), "18446744073709551615")
    if size == nil then return nil, "size is not a decimal number (LEG-5)" end
    local v = { fields = fields, size = size, port = 0 }
    if #fields == 5 then
        local port = decimal(text(4), "4294967295")
        if port == nil then return nil, "port is not a decimal number (LEG-5)" end
        v.port = tonumber(port)
        if v.port > 65535 then return nil, "port above 65535 (FILE-4)" end
        if fields[5][2] - fields[5][1] > 45 then return nil, "ip longer than 45 bytes (FILE-1)" end
    end
    return v
end

-- Adds a FILE header's items; returns the size as a Lua number and a summary.
local function leg_file_items(t, tvb, v, off)
    local fl = v.fields
    t:add(f.frame, "FILE")
    t:add(f.opcode, tvb(off, 2))
    t:add(f.name, tvb(fl[1][1], fl[1][2] - fl[1][1]))
    add_string(t, f.filename, tvb, fl[2][1], fl[2][2])
    t:add(f.size, tvb(fl[3][1], fl[3][2] - fl[3][1]), uint64_of(v.size))
    if #fl == 5 then
        t:add(f.port, tvb(fl[4][1], fl[4][2] - fl[4][1]), v.port)
        if v.port ~= 0 then add_string(t, f.ip, tvb, fl[5][1], fl[5][2]) end
    end
    t:add(f.mode, v.port == 0 and "relay" or "p2p")
    return tonumber(v.size), "FILE " .. tvb(fl[1][1], fl[1][2] - fl[1][1]):string() .. " " .. v.size .. " bytes"
end

-- One client → server frame of the dialect at `off`; returns the offset after it.
local function leg_client_frame(tvb, raw, off, st, tree, info)
    local len = #raw
    local e = leg_unit_end(raw, off, off + 2)
    if e - off > LEG_BLOCK then
        malformed(tree, tvb, off, "a write of more than 2048 bytes (LEG-2)")
        return e
    end
    local fe = strip_trailer(raw, off, e)
    if fe - off < 2 then
        malformed(tree, tvb, off, "a write with no 2-byte opcode (LEG-13)")
        return e
    end
    local op = tvb(off, 2):uint()
    local p = off + 2
    local name = OPS[op]
    if name == nil then
        malformed(tree, tvb, off, string.format("opcode %d is not 1..5 (LEG-13)", op))
        return e
    end
    local summary = name
    local t
    if op == 1 then
        local sp = string.find(raw, " ", p + 1, true)
        if sp == nil or sp - 1 >= fe then
            malformed(tree, tvb, off, "MSG without TO, one space, TEXT (LEG-4)")
            return e
        end
        local nlen = sp - 1 - p
        if nlen < 1 or nlen > 4 then
            malformed(tree, tvb, off, "MSG name of " .. nlen .. " bytes (LEG-4)")
            return e
        end
        t = tree:add(msrp, tvb(off, e - off), "MSRP MSG (legacy)")
        t:add(f.frame, name)
        t:add(f.opcode, tvb(off, 2))
        t:add(f.name, tvb(p, nlen))
        add_string(t, f.text, tvb, sp, fe)
        summary = summary .. " " .. tvb(p, nlen):string()
    elseif op == 2 then
        local v, why = leg_file_fields(raw, p, fe)
        if v == nil then
            malformed(tree, tvb, off, why)
            return e
        end
        t = tree:add(msrp, tvb(off, e - off), "MSRP FILE (legacy)")
        local size
        size, summary = leg_file_items(t, tvb, v, off)
        if v.port == 0 then st.body_left = size end
    elseif op == 3 then
        if fe > p then
            malformed(tree, tvb, off, "LIST is the opcode alone (LEG-6)")
            return e
        end
        t = tree:add(msrp, tvb(off, e - off), "MSRP LIST (legacy)")
        t:add(f.frame, name)
        t:add(f.opcode, tvb(off, 2))
    elseif op == 4 then
        if fe - p > 255 then
            malformed(tree, tvb, off, "ACK filename longer than 255 bytes")
            return e
        end
        t = tree:add(msrp, tvb(off, e - off), "MSRP ACK (legacy)")
        t:add(f.frame, name)
        t:add(f.opcode, tvb(off, 2))
        add_string(t, f.filename, tvb, p, fe)
    else
        -- The dialect has no client ERROR (LEG-6); shown as what it is.
        t = tree:add(msrp, tvb(off, e - off), "MSRP ERROR (legacy, not part of the dialect)")
        t:add(f.frame, name)
        t:add(f.opcode, tvb(off, 2))
        add_string(t, f.text, tvb, p, fe)
    end
    table.insert(info, summary)
    return e
end

-- A server → client FILE at `off` (LEG-8): P2P is the whole write; relay is a 2048-byte
-- block counted from the opcode whose header ends at its first 0x00, then SIZE body bytes.
local function leg_server_file(tvb, raw, off, st, tree, info)
    local len = #raw
    local window_end = math.min(len, off + LEG_BLOCK)
    local nul = string.find(raw, "\0", off + 3, true)
    local header_end
    if nul ~= nil and nul - 1 < window_end then
        header_end = nul - 1
    elseif len - off >= LEG_BLOCK then
        malformed(tree, tvb, off, "a FILE header with no 0x00 inside its 2048-byte block (LEG-8)")
        return off + LEG_BLOCK
    else
        header_end = len
    end
    local write_end = header_end
    if header_end < len then write_end = leg_unit_end(raw, off, header_end) end
    local v, why = leg_file_fields(raw, off + 2, strip_trailer(raw, off + 2, header_end))
    if v == nil then
        malformed(tree, tvb, off, why)
        return write_end
    end
    if v.port ~= 0 then
        local t = tree:add(msrp, tvb(off, write_end - off), "MSRP FILE (legacy, P2P offer)")
        local size, summary = leg_file_items(t, tvb, v, off)
        p2p_offers[v.port] = size
        table.insert(info, summary)
        return write_end
    end
    if header_end == len then
        malformed(tree, tvb, off, "a relay FILE header not padded to its 2048-byte block (LEG-8)")
        return len
    end
    local block = math.min(LEG_BLOCK, len - off)
    local t = tree:add(msrp, tvb(off, block), "MSRP FILE (legacy, relay block)")
    local size, summary = leg_file_items(t, tvb, v, off)
    table.insert(info, summary)
    if block < LEG_BLOCK then
        -- The rest of the block comes in later segments; the body follows it.
        st.block_left = LEG_BLOCK - block
        st.block_body = size
    else
        st.body_left = size
    end
    return off + block
end

-- One server → client frame of the dialect at `off`; returns the offset after it.
local function leg_server_frame(tvb, raw, off, st, tree, info)
    local len = #raw
    local b0, b1 = string.byte(raw, off + 1, off + 2)
    if b0 == 0 and b1 == 2 then return leg_server_file(tvb, raw, off, st, tree, info) end
    local e = leg_unit_end(raw, off, off + 2)
    local t
    if b0 == 0 and b1 ~= nil then
        local op = tvb(off, 2):uint()
        if op == 4 then
            t = tree:add(msrp, tvb(off, e - off), "MSRP ACK (legacy)")
            t:add(f.frame, "ACK")
            t:add(f.opcode, tvb(off, 2))
            add_string(t, f.filename, tvb, off + 2, strip_trailer(raw, off + 2, e))
            table.insert(info, "ACK")
        elseif op == 5 then
            t = tree:add(msrp, tvb(off, e - off), "MSRP ERROR (legacy, opcode 5)")
            t:add(f.frame, "ERROR")
            t:add(f.opcode, tvb(off, 2))
            add_string(t, f.text, tvb, off + 2, text_end(raw, off + 2, e))
            table.insert(info, "ERROR")
        else
            malformed(tree, tvb, off, string.format(
                "a server frame with opcode %d; the dialect forwards messages and LIST replies as bare text (LEG-7, LEG-9, LEG-13)", op))
        end
        return e
    end
    if b0 == string.byte("[") then
        local te = text_end(raw, off, e)
        local close = string.find(raw, "]: ", off + 2, true)
        if close == nil or close + 2 > te then
            malformed(tree, tvb, off, "starts with '[' but is not \"[FROM]: TEXT\" (LEG-7)")
            return e
        end
        local nlen = close - 1 - (off + 1)
        if nlen < 1 or nlen > 4 then
            malformed(tree, tvb, off, "sender name of " .. nlen .. " bytes (LEG-7)")
            return e
        end
        t = tree:add(msrp, tvb(off, e - off), "MSRP MSG (legacy, forwarded)")
        t:add(f.frame, "MSG")
        t:add(f.name, tvb(off + 1, nlen))
        add_string(t, f.text, tvb, close + 2, te)
        table.insert(info, "MSG " .. tvb(off + 1, nlen):string())
        return e
    end
    if string.sub(raw, off + 1, off + #LIST_HEAD) == LIST_HEAD then
        t = tree:add(msrp, tvb(off, e - off), "MSRP LIST reply (legacy)")
        t:add(f.frame, "LIST")
        local nul = string.find(raw, "\0", off + 1, true)
        local te = (nul ~= nil and nul - 1 < e) and nul - 1 or e
        add_string(t, f.text, tvb, off, te)
        table.insert(info, "LIST")
        return e
    end
    -- Any other bare text is an error (LEG-10): the dialect has no reason tokens.
    t = tree:add(msrp, tvb(off, e - off), "MSRP ERROR (legacy, bare text)")
    t:add(f.frame, "ERROR")
    add_string(t, f.text, tvb, off, text_end(raw, off, e))
    table.insert(info, "ERROR")
    return e
end

-- The next legacy item at `off` (not a body: the caller shows those); returns the offset
-- after it, always past `off`.
local function legacy_item(tvb, raw, off, to_server, st, tree, info)
    local len = #raw
    if st.block_left ~= nil and st.block_left > 0 then
        local n = math.min(st.block_left, len - off)
        tree:add(msrp, tvb(off, n), "MSRP relay block padding (LEG-8)")
        st.block_left = st.block_left - n
        if st.block_left == 0 then st.body_left = st.block_body or 0 end
        return off + n
    end
    if to_server and not st.login_done then
        -- LEG-1: the first write is the name alone, 1 to 4 bytes.
        local e = leg_unit_end(raw, off, off)
        st.login_done = true
        if e - off < 1 or e - off > 4 then
            malformed(tree, tvb, off, "the name write has " .. (e - off) .. " bytes; a name has 1 to 4 (LEG-1)")
            return e
        end
        local t = tree:add(msrp, tvb(off, e - off), "MSRP LOGIN (legacy)")
        t:add(f.frame, "LOGIN")
        t:add(f.login, tvb(off, e - off))
        table.insert(info, "LOGIN " .. tvb(off, e - off):string())
        return e
    end
    if to_server then return leg_client_frame(tvb, raw, off, st, tree, info) end
    return leg_server_frame(tvb, raw, off, st, tree, info)
end

local function dissect(tvb, pinfo, tree)
    local len = tvb:len()
    if len == 0 then return 0 end
    local to_server = to_server_of(pinfo)
    local h = heur[tostring(tcp_stream_f())]
    if h ~= nil then heur_check(h, tvb, pinfo, to_server) end
    if h ~= nil and h.state == "rejected" then return 0 end
    local stream_id = tostring(tcp_stream_f()) .. (to_server and ">" or "<")
    local key = pinfo.number .. "/" .. len .. "/" .. stream_id
    local st
    if pinfo.visited and saved[key] ~= nil then
        st = copy(saved[key])
    else
        streams[stream_id] = streams[stream_id] or { login_done = false, body_left = 0, broken = false }
        st = streams[stream_id]
        saved[key] = copy(st)
    end
    pinfo.cols.protocol = "MSRP"
    local info = {}
    local raw = tvb:raw(0, len)
    local off = 0
    local legacy = legacy_profile()
    while off < len do
        if st.broken then
            tree:add(msrp, tvb(off), "MSRP (stream not decodable after an invalid frame)")
            off = len
            break
        end
        if st.body_left > 0 then
            local n = math.min(st.body_left, len - off)
            local t = tree:add(msrp, tvb(off, n), "MSRP relayed body")
            t:add(f.body, tvb(off, n))
            t:add(f.body_len, n)
            st.body_left = st.body_left - n
            t:add(f.body_left, UInt64.new(st.body_left))
            table.insert(info, "body " .. n .. " bytes")
            off = off + n
        elseif legacy then
            off = legacy_item(tvb, raw, off, to_server, st, tree, info)
        elseif to_server and not st.login_done then
            if len - off < 4 then
                pinfo.desegment_offset = off
                pinfo.desegment_len = 4 - (len - off)
                break
            end
            local t = tree:add(msrp, tvb(off, 4), "MSRP LOGIN")
            t:add(f.frame, "LOGIN")
            t:add(f.login, tvb(off, 4))
            table.insert(info, "LOGIN " .. tvb(off, 4):string())
            st.login_done = true
            if h ~= nil and h.login_at == nil then h.login_at = pinfo.number end
            off = off + 4
        else
            local after = frame(tvb, raw, off, to_server, st, tree, info)
            if after == nil then
                pinfo.desegment_offset = off
                pinfo.desegment_len = DESEGMENT_ONE_MORE_SEGMENT
                break
            elseif after == false then
                st.broken = true
            else
                off = after
            end
        end
    end
    if not pinfo.visited then
        streams[stream_id] = st
    end
    if #info > 0 then
        pinfo.cols.info = (to_server and "C→S " or "S→C ") .. table.concat(info, ", ")
    end
    return len
end
msrp.dissector = dissect

function msrp.init()
    streams = {}
    saved = {}
    heur = {}
    p2p_offers = {}
end

local registered_port = nil
function msrp.prefs_changed()
    local tcp = DissectorTable.get("tcp.port")
    if registered_port ~= nil then tcp:remove(registered_port, msrp) end
    registered_port = msrp.prefs.port
    tcp:add(registered_port, msrp)
end

DissectorTable.get("tcp.port"):add(msrp.prefs.port, msrp)
registered_port = msrp.prefs.port

-- Heuristic dissector -------------------------------------------------------------------
-- Recognises a strict MSRP stream by its content, on any port: the client speaks first
-- (its first payload is read as the 4-byte login, whole or in pieces), and the server's
-- first payload after it is a frame (opcode 1..5). Until the server has spoken the stream
-- is a candidate, decoded as MSRP; a payload after the login that starts with a valid
-- opcode confirms it; a server payload that does not drops it (later packets stay raw, and
-- on a second pass, as in Wireshark's window or `tshark -2`, it is not claimed at all). A
-- login followed by invalid bytes is not dropped by itself: the suite sends such streams on
-- purpose, and the server's ERROR confirms them. Disable the heuristic (Analyze > Enabled
-- Protocols > msrpft_tcp) if other protocols on random ports get claimed.
-- A P2P side stream is decoded when the capture holds the FILE offer naming its port.

local msrp_p2p = Proto("msrpft_p2p", "MSRP P2P file transfer")

function msrp_p2p.dissector(tvb, pinfo, tree)
    local len = tvb:len()
    if len == 0 then return 0 end
    pinfo.cols.protocol = "MSRP"
    local t = tree:add(msrp, tvb(0, len), "MSRP P2P file body")
    t:add(f.mode, "p2p")
    t:add(f.body, tvb(0, len))
    t:add(f.body_len, len)
    pinfo.cols.info = "P2P body " .. len .. " bytes"
    return len
end

local function heuristic(tvb, pinfo, tree)
    local id = tostring(tcp_stream_f())
    local h = heur[id]
    if h ~= nil then
        -- Seen before: claimed unless the content showed it is not MSRP.
        if h.state == "rejected" then return false end
        return dissect(tvb, pinfo, tree) > 0
    end
    if pinfo.visited then return false end
    if p2p_offers[pinfo.dst_port] ~= nil or p2p_offers[pinfo.src_port] ~= nil then
        heur[id] = { port = -1, state = "p2p" }
        pinfo.conversation = msrp_p2p
        msrp_p2p.dissector(tvb, pinfo, tree)
        return true
    end
    -- The legacy dialect's bare texts give no reliable signature: under that profile only
    -- the port preference (and P2P offers, above) select streams.
    if legacy_profile() then return false end
    heur[id] = { port = pinfo.dst_port, state = "candidate" }
    pinfo.conversation = msrp
    dissect(tvb, pinfo, tree)
    return true
end

msrp:register_heuristic("tcp", heuristic)
