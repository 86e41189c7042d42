//! Reading `secretsmanager:` and `cognito:` secret sources: the engine's
//! [`SecretStore`] over Secrets Manager's GetSecretValue and Cognito's
//! DescribeUserPoolClient (a client's generated secret, which is never
//! stored: it is read again whenever a step needs it).

use crate::error::from_sdk_secret;
use async_trait::async_trait;
use aws_sdk_secretsmanager::Client;
use deployctl_engine::secrets::{SecretStore, Sensitive};
use deployctl_engine::ProviderError;

/// Reads a secret's current value (`AWSCURRENT`), or a Cognito client's.
pub struct AwsSecretStore {
    client: Client,
    cognito: aws_sdk_cognitoidentityprovider::Client,
}

impl AwsSecretStore {
    pub fn new(client: Client, cognito: aws_sdk_cognitoidentityprovider::Client) -> AwsSecretStore {
        AwsSecretStore { client, cognito }
    }

    /// `POOL_ID/CLIENT_ID`'s generated secret.
    async fn client_secret(&self, id: &str) -> Result<Sensitive, ProviderError> {
        let (pool, client) = id.split_once('/').unwrap_or((id, ""));
        let out = self.cognito.describe_user_pool_client().user_pool_id(pool).client_id(client).send().await;
        let out = out.map_err(|e| {
            let mut err = from_sdk_secret(e, "the answer");
            err.message = format!("reading the secret of Cognito client {id}: {}", err.message);
            if err.code_is("ResourceNotFoundException") {
                err.hint =
                    Some("name a client that exists, usually this stack's: cognito:${POOL.id}/${CLIENT.id}".into());
            }
            err
        })?;
        match out.user_pool_client.and_then(|c| c.client_secret) {
            Some(s) => Ok(Sensitive::new(s)),
            None => Err(ProviderError::msg(format!("Cognito client {id} has no secret"))
                .with_hint("set generate_secret: true on the cognito.user_pool_client")),
        }
    }
}

#[async_trait]
impl SecretStore for AwsSecretStore {
    async fn get_secret(&self, id: &str) -> Result<Sensitive, ProviderError> {
        if let Some(client) = id.strip_prefix("cognito:") {
            return self.client_secret(client).await;
        }
        let out = self.client.get_secret_value().secret_id(id).send().await.map_err(|e| {
            let mut err = from_sdk_secret(e, "the answer to GetSecretValue");
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
