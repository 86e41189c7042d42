//! An ECS blue/green deployment through CodeDeploy, seen through: what
//! `ecs.service` does instead of UpdateService when its
//! `deployment_controller` is `CODE_DEPLOY` and the task definition changes.
//!
//! [`deploy`] first looks for a deployment of the group that is still
//! running: one of the same revision is followed, not started again (a run
//! interrupted with Ctrl-C left it running); one of another revision is an
//! error, as CodeDeploy runs one at a time. Otherwise it creates the
//! deployment with a generated AppSpec (task definition, container name and
//! port). Then it polls GetDeployment, and GetDeploymentTarget for the share
//! of traffic on the replacement (progress: `InProgress, 20% of traffic on
//! the new task set`), until the deployment succeeds. A deployment that
//! fails, is stopped (an alarm, a person) or rolls back ends the step with
//! an error naming it and CodeDeploy's reason.

use crate::error::from_sdk;
use aws_sdk_codedeploy::types::{
    AppSpecContent, DeploymentInfo, DeploymentStatus, RevisionLocation, RevisionLocationType, TargetLabel,
};
use aws_sdk_codedeploy::Client;
use deployctl_engine::{OpCtx, Poll, ProviderError};
use serde_json::json;

/// What one deployment deploys.
#[derive(Debug, Clone)]
pub struct EcsRevision {
    pub application: String,
    pub deployment_group: String,
    pub cluster: String,
    pub service: String,
    pub task_definition: String,
    pub container_name: String,
    pub container_port: i32,
}

impl EcsRevision {
    /// The AppSpec CodeDeploy takes for an ECS service.
    pub fn app_spec(&self) -> String {
        json!({
            "version": 0.0,
            "Resources": [{"TargetService": {"Type": "AWS::ECS::Service", "Properties": {
                "TaskDefinition": self.task_definition,
                "LoadBalancerInfo": {"ContainerName": self.container_name, "ContainerPort": self.container_port},
            }}}],
        })
        .to_string()
    }

    /// CodeDeploy's id of the service as a deployment target.
    fn target_id(&self) -> String {
        format!("{}:{}", self.cluster, self.service)
    }
}

/// The statuses of a deployment still under way.
const RUNNING: &[DeploymentStatus] = &[
    DeploymentStatus::Created,
    DeploymentStatus::Queued,
    DeploymentStatus::InProgress,
    DeploymentStatus::Baking,
    DeploymentStatus::Ready,
];

fn short(td: &str) -> &str {
    td.rsplit('/').next().unwrap_or(td)
}

async fn get(client: &Client, id: &str) -> Result<DeploymentInfo, ProviderError> {
    let out = client.get_deployment().deployment_id(id).send().await.map_err(from_sdk)?;
    out.deployment_info.ok_or_else(|| ProviderError::msg(format!("GetDeployment {id} answered no deployment")))
}

/// The task definition a deployment deploys (from its AppSpec).
fn deploys(d: &DeploymentInfo) -> Option<String> {
    let content = d.revision()?.app_spec_content()?.content()?;
    let spec: serde_json::Value = serde_json::from_str(content).ok()?;
    let td = &spec["Resources"][0]["TargetService"]["Properties"]["TaskDefinition"];
    td.as_str().map(str::to_string)
}

/// Deploys `rev` through its deployment group and follows the deployment
/// until it succeeds; see the module's doc.
pub async fn deploy(ctx: &OpCtx, client: &Client, rev: &EcsRevision) -> Result<(), ProviderError> {
    let running = client
        .list_deployments()
        .application_name(&rev.application)
        .deployment_group_name(&rev.deployment_group)
        .set_include_only_statuses(Some(RUNNING.to_vec()))
        .send()
        .await
        .map_err(from_sdk)?;
    let mut follow = None;
    for id in running.deployments() {
        let d = get(client, id).await?;
        if deploys(&d).as_deref() == Some(rev.task_definition.as_str()) {
            ctx.progress(format!("following deployment {id}, started by an earlier run"), Default::default());
            follow = Some(id.clone());
        } else {
            return Err(ProviderError::new(
                Some("DeploymentAlreadyRunning".into()),
                format!(
                    "deployment {id} of {} is still running in {}/{}; CodeDeploy runs one at a time",
                    deploys(&d).as_deref().map(short).unwrap_or("another revision"),
                    rev.application,
                    rev.deployment_group
                ),
            )
            .with_hint(format!(
                "wait for it and run deployctl up again, or stop it: aws deploy stop-deployment --deployment-id {id}"
            )));
        }
    }
    let id = match follow {
        Some(id) => id,
        None => {
            let revision = RevisionLocation::builder()
                .revision_type(RevisionLocationType::AppSpecContent)
                .app_spec_content(AppSpecContent::builder().content(rev.app_spec()).build())
                .build();
            let out = client
                .create_deployment()
                .application_name(&rev.application)
                .deployment_group_name(&rev.deployment_group)
                .revision(revision)
                .description(format!("deployctl: {} to {}", short(&rev.task_definition), rev.service))
                .send()
                .await
                .map_err(from_sdk)?;
            let id = out.deployment_id().unwrap_or_default().to_string();
            ctx.progress(format!("created deployment {id} of {}", short(&rev.task_definition)), Default::default());
            id
        }
    };
    follow_deployment(ctx, client, rev, &id).await
}

/// Polls deployment `id` until it succeeds.
async fn follow_deployment(ctx: &OpCtx, client: &Client, rev: &EcsRevision, id: &str) -> Result<(), ProviderError> {
    let what = format!("deployment {id}");
    let target = rev.target_id();
    ctx.wait_for(&what, || async {
        let d = get(client, id).await?;
        let status = d.status().cloned().unwrap_or(DeploymentStatus::Created);
        match status {
            DeploymentStatus::Succeeded => return Ok(Poll::Ready(())),
            DeploymentStatus::Failed | DeploymentStatus::Stopped => return Err(ended(rev, id, &d)),
            _ => {}
        }
        Ok(Poll::Pending(match green_weight(client, id, &target).await? {
            Some(w) => format!("{}, {w}% of traffic on the new task set", status.as_str()),
            None => status.as_str().to_string(),
        }))
    })
    .await?;
    Ok(())
}

/// The share of traffic on the replacement task set, once there is one.
async fn green_weight(client: &Client, id: &str, target: &str) -> Result<Option<f64>, ProviderError> {
    let out = client.get_deployment_target().deployment_id(id).target_id(target).send().await;
    let out = match out.map_err(from_sdk) {
        Ok(o) => o,
        // Not a target yet (the deployment has not started).
        Err(e) if e.code_is("DeploymentTargetDoesNotExistException") => return Ok(None),
        Err(e) => return Err(e),
    };
    let sets = out.deployment_target().and_then(|t| t.ecs_target()).map(|t| t.task_sets_info()).unwrap_or_default();
    Ok(sets.iter().find(|s| s.task_set_label() == Some(&TargetLabel::Green)).map(|s| s.traffic_weight))
}

/// The error for a deployment that failed or was stopped.
fn ended(rev: &EcsRevision, id: &str, d: &DeploymentInfo) -> ProviderError {
    let status = d.status().map_or("Failed", |s| s.as_str());
    let reason = d
        .error_information()
        .map(|e| format!("{}: {}", e.code().map_or("", |c| c.as_str()), e.message().unwrap_or_default()))
        .unwrap_or_else(|| "no reason given".into());
    let rollback = d.rollback_info().and_then(|r| r.rollback_deployment_id()).map(|r| format!("; rolled back by {r}"));
    ProviderError::new(
        Some("DeploymentFailed".into()),
        format!(
            "CodeDeploy deployment {id} of {} to service {} is {status} ({reason}){}",
            short(&rev.task_definition),
            rev.service,
            rollback.unwrap_or_default()
        ),
    )
    .with_hint(format!(
        "the service keeps its old task set. See why: aws deploy get-deployment --deployment-id {id}; fix the image or \
         task definition and run deployctl up again"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_app_spec_names_the_revision_container_and_port_and_reads_back() {
        let rev = EcsRevision {
            application: "canary".into(),
            deployment_group: "web".into(),
            cluster: "canary".into(),
            service: "web".into(),
            task_definition: "arn:aws:ecs:eu-central-1:123456789012:task-definition/web:8".into(),
            container_name: "web".into(),
            container_port: 3000,
        };
        let spec: serde_json::Value = serde_json::from_str(&rev.app_spec()).unwrap();
        let props = &spec["Resources"][0]["TargetService"]["Properties"];
        assert_eq!(props["LoadBalancerInfo"], json!({"ContainerName": "web", "ContainerPort": 3000}));
        let revision = RevisionLocation::builder()
            .revision_type(RevisionLocationType::AppSpecContent)
            .app_spec_content(AppSpecContent::builder().content(rev.app_spec()).build())
            .build();
        let d = DeploymentInfo::builder().revision(revision).build();
        assert_eq!(deploys(&d).as_deref(), Some(rev.task_definition.as_str()));
        assert_eq!(rev.target_id(), "canary:web");
    }
}
