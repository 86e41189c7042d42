//! Reading `secretsmanager:` secret sources: the engine's [`SecretStore`]
//! over GetSecretValue.

use crate::error::from_sdk;
use async_trait::async_trait;
use aws_sdk_secretsmanager::Client;
use aws_smithy_runtime_api::client::result::SdkError;
use deployctl_engine::secrets::{SecretStore, Sensitive};
use deployctl_engine::ProviderError;

/// Reads a secret's current value (`AWSCURRENT`).
pub struct SecretsManagerStore {
    client: Client,
}

impl SecretsManagerStore {
    pub fn new(client: Client) -> SecretsManagerStore {
        SecretsManagerStore { client }
    }
}

#[async_trait]
impl SecretStore for SecretsManagerStore {
    async fn get_secret(&self, id: &str) -> Result<Sensitive, ProviderError> {
        let out = self.client.get_secret_value().secret_id(id).send().await.map_err(|e| match e {
            // A body that did not parse may hold the value: never quote it.
            SdkError::ResponseError(_) => ProviderError::new(
                Some("ResponseError".into()),
                format!("reading secret {id}: the answer to GetSecretValue could not be understood"),
            ),
            e => {
                let mut err = from_sdk(e);
                err.message = format!("reading secret {id}: {}", err.message);
                if err.code_is("ResourceNotFoundException") {
                    err.hint = Some(format!(
                        "create the secret {id} and give it a value (aws secretsmanager create-secret --name … \
                         --secret-string …), or name one of this stack's secretsmanager.secret resources \
                         (secretsmanager:${{name.arn}})"
                    ));
                } else if err.code_is("AccessDeniedException") {
                    err.hint = Some(format!("allow secretsmanager:GetSecretValue on {id} to the credentials in use"));
                } else if err.code_is("DecryptionFailure") {
                    err.hint = Some("allow kms:Decrypt on the secret's KMS key to the credentials in use".into());
                }
                err
            }
        })?;
        match out.secret_string {
            Some(s) => Ok(Sensitive::new(s)),
            None => Err(ProviderError::msg(format!(
                "secret {id} holds binary data; a secret source reads text (SecretString)"
            ))
            .with_hint("store the value as a string")),
        }
    }
}
