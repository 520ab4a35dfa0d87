-- Wireshark dissector for MSRP, the Messaging and Simple File Transfer Protocol (strict
-- profile, see SPEC.md of https://github.com/... msrp). Not RFC 4975's MSRP.
--
-- Install: copy to ~/.local/lib/wireshark/plugins/ (or run tshark -X lua_script:msrp.lua).
-- Port: Edit > Preferences > Protocols > MSRPFT, or `-o msrpft.port:9000` (default 8080).
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
    return { login_done = s.login_done, body_left = s.body_left, broken = s.broken }
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
    heur[id] = { port = pinfo.dst_port, state = "candidate" }
    pinfo.conversation = msrp
    dissect(tvb, pinfo, tree)
    return true
end

msrp:register_heuristic("tcp", heuristic)
