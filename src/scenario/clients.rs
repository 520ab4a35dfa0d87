//! A scenario's clients: logical names (`ana`, `crowd.3`) resolved to the wire names they
//! log in with, and groups to their members.

use std::collections::BTreeMap;

use super::{ClientDecl, GroupDecl, ScenarioFile};

/// Resolved client names: every single client (group members included, as `group.N`) with
/// its wire name, and every group with its members.
#[derive(Debug, Clone, Default)]
pub struct Clients {
    /// Logical name (`ana`, `crowd.3`) → wire name, the login bytes.
    pub wire: BTreeMap<String, Vec<u8>>,
    /// Group name → its members' logical names (`crowd.0`, `crowd.1`, …), in index order.
    pub groups: BTreeMap<String, Vec<String>>,
}

impl Clients {
    /// The logical clients a reference names: a group's members, or the client itself.
    pub fn expand(&self, name: &str) -> Result<Vec<String>, String> {
        if let Some(members) = self.groups.get(name) {
            return Ok(members.clone());
        }
        if self.wire.contains_key(name) {
            return Ok(vec![name.to_string()]);
        }
        Err(format!("\"{name}\" is not a declared client"))
    }

    /// Exactly one logical client.
    pub fn one(&self, name: &str) -> Result<String, String> {
        match self.expand(name)?.as_slice() {
            [one] => Ok(one.clone()),
            _ => Err(format!(
                "\"{name}\" is a group; this field takes one client (\"{name}.0\")"
            )),
        }
    }

    /// The bytes a reference stands for: a declared client's wire name, else the reference
    /// itself as a literal name; a group is refused (it is not one name).
    fn wire_bytes(&self, name: &str) -> Result<Vec<u8>, String> {
        match self.wire.get(name) {
            Some(w) => Ok(w.clone()),
            None if self.groups.contains_key(name) => Err(format!(
                "\"{name}\" is a group; name one member (\"{name}.0\")"
            )),
            None => Ok(name.as_bytes().to_vec()),
        }
    }

    /// The wire name of a reference as a name of 1 to 4 bytes (LEG-1): a declared client's,
    /// or a literal name.
    pub fn wire_name(&self, name: &str) -> Result<msrp_reference::Name, String> {
        let bytes = self.wire_bytes(name)?;
        msrp_reference::Name::from_slice(&bytes).ok_or_else(|| {
            format!(
                "\"{name}\" is neither a declared client nor a name of 1 to 4 bytes ({} bytes)",
                bytes.len()
            )
        })
    }

    /// The wire name of a reference: a declared client's, or a literal 4-byte name (for
    /// addressing names nobody has).
    pub fn wire_of(&self, name: &str) -> Result<[u8; 4], String> {
        let bytes = self.wire_bytes(name)?;
        bytes.try_into().map_err(|b: Vec<u8>| {
            format!(
                "\"{name}\" is neither a declared client nor a 4-byte name ({} bytes)",
                b.len()
            )
        })
    }
}

pub(super) fn resolve_clients(file: &ScenarioFile) -> Result<Clients, String> {
    let mut clients = Clients::default();
    for (logical, decl) in &file.clients {
        if logical.contains('.') {
            return Err(format!("client name \"{logical}\" may not contain '.'"));
        }
        match decl {
            ClientDecl::Single(wire) => {
                clients
                    .wire
                    .insert(logical.clone(), wire.as_bytes().to_vec());
            }
            ClientDecl::Group(GroupDecl { count, prefix }) => {
                let digits = 4usize
                    .checked_sub(prefix.len())
                    .filter(|d| *d > 0)
                    .ok_or_else(|| {
                        format!("group \"{logical}\": prefix \"{prefix}\" must be 1 to 3 bytes")
                    })?;
                let room = 10usize.pow(digits as u32);
                if *count == 0 || *count > room {
                    return Err(format!(
                        "group \"{logical}\": {count} clients do not fit {digits} digits after \"{prefix}\" (1..={room})"
                    ));
                }
                let mut members = Vec::new();
                for i in 0..*count {
                    let member = format!("{logical}.{i}");
                    let wire = format!("{prefix}{i:0digits$}");
                    clients.wire.insert(member.clone(), wire.into_bytes());
                    members.push(member);
                }
                clients.groups.insert(logical.clone(), members);
            }
        }
    }
    Ok(clients)
}
