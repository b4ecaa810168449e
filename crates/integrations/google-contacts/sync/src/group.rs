//! Our contact group (the design's step 2): the stored one, else the user's group stamped
//! with our `clientData` (whatever its name now), else a new `Threadline` group with the
//! stamp; a 409 (a group of that name exists, not ours) → adopt the one named `Threadline`
//! and stamp it. Never two.

use threadline_contacts_core::person::ClientData;

use crate::client::{CallError, ContactGroup, PeopleClient};

/// The group's name when we create it.
pub const GROUP_NAME: &str = "Threadline";
/// The `clientData` key stamped on our group; its value is the connection id.
pub const EXPORT_KEY: &str = "threadline.export";

fn stamp(connection: &str) -> Vec<ClientData> {
    vec![ClientData {
        key: EXPORT_KEY.to_string(),
        value: connection.to_string(),
    }]
}

/// Finds or makes our group; its resource name. `stored`: the one the export row holds
/// (trusted as is; a 404 on a write makes the caller forget it and call again without).
pub async fn ensure_group(
    client: &PeopleClient,
    token: &str,
    connection: &str,
    stored: Option<&str>,
) -> Result<String, CallError> {
    if let Some(group) = stored {
        return Ok(group.to_string());
    }
    let groups = client.list_groups(token).await?;
    if let Some(ours) = find_stamped(&groups, connection) {
        return Ok(ours.resource_name.clone());
    }
    match client
        .create_group(token, GROUP_NAME, &stamp(connection))
        .await
    {
        Ok(created) => Ok(created.resource_name),
        Err(e) if e.status() == Some(409) => {
            // A group of that name exists: list again (it may be one a lost create answer
            // made, already stamped), else adopt the one named so and stamp it.
            let groups = client.list_groups(token).await?;
            if let Some(ours) = find_stamped(&groups, connection) {
                return Ok(ours.resource_name.clone());
            }
            let Some(named) = groups.iter().find(|g| g.name == GROUP_NAME) else {
                return Err(e);
            };
            let mut data: Vec<ClientData> = named
                .client_data
                .iter()
                .filter(|d| d.key != EXPORT_KEY)
                .cloned()
                .collect();
            data.extend(stamp(connection));
            Ok(client.stamp_group(token, named, &data).await?.resource_name)
        }
        Err(e) => Err(e),
    }
}

fn find_stamped<'a>(groups: &'a [ContactGroup], connection: &str) -> Option<&'a ContactGroup> {
    groups
        .iter()
        .find(|g| g.client_data(EXPORT_KEY) == Some(connection))
}
