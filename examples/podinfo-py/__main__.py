"""The podinfo automation of examples/podinfo/Pulumi.yaml, resource for resource and value for
value (tests/tests/sdk.rs runs both under Pulumi's mocks and compares the inputs)."""

import pulumi
import pulumi_imageautomation as imageautomation

config = pulumi.Config()
# Pulumi.yaml declares it with its default, so the engine always passes a value.
fleet_repository = config.require("fleetRepository")

podinfo = imageautomation.ImageRepository(
    "podinfo",
    image="ghcr.io/stefanprodan/podinfo",
    interval="5m",
)

podinfo_policy = imageautomation.ImagePolicy(
    "podinfoPolicy",
    name="podinfo",  # markers say {"$imagepolicy": "flux-system:podinfo"}
    image_repository_ref=podinfo.image_repository_ref,
    policy=imageautomation.PolicyChoiceArgs(
        semver=imageautomation.SemVerPolicyArgs(range="5.0.x"),
    ),
)

fleet_automation = imageautomation.UpdateAutomation(
    "fleetAutomation",
    name="fleet-automation",  # the Flux object name (cluster mode, imageautomation render)
    git=imageautomation.GitSpecArgs(
        url=fleet_repository,
        checkout=imageautomation.GitCheckoutArgs(
            ref=imageautomation.GitRefArgs(branch="main"),
        ),
        commit=imageautomation.GitCommitArgs(
            author=imageautomation.CommitAuthorArgs(
                name="fluxcdbot",
                email="fluxcdbot@users.noreply.github.com",
            ),
            message_template=(
                "Automated image update\n"
                "\n"
                "{{ range .Changed.Changes -}}\n"
                "- {{ .OldValue }} -> {{ .NewValue }}\n"
                "{{ end -}}"
            ),
        ),
        push=imageautomation.GitPushArgs(branch="flux-image-updates"),
    ),
    update=imageautomation.UpdateStrategyArgs(path="./clusters/my-cluster", strategy="Setters"),
    policies=[podinfo_policy.image_policy_ref],
)

pulumi.export("latestImage", podinfo_policy.latest_image)
pulumi.export("lastPushCommit", fleet_automation.last_push_commit)
