// The podinfo automation of examples/podinfo/Pulumi.yaml, resource for resource and value for
// value (tests/tests/sdk.rs runs both under Pulumi's mocks and compares the inputs).
import * as pulumi from "@pulumi/pulumi";
import * as imageautomation from "@imageautomation/pulumi";

const config = new pulumi.Config();
// Pulumi.yaml declares it with its default, so the engine always passes a value.
const fleetRepository = config.require("fleetRepository");

const podinfo = new imageautomation.ImageRepository("podinfo", {
    image: "ghcr.io/stefanprodan/podinfo",
    interval: "5m",
});

const podinfoPolicy = new imageautomation.ImagePolicy("podinfoPolicy", {
    name: "podinfo", // markers say {"$imagepolicy": "flux-system:podinfo"}
    imageRepositoryRef: podinfo.imageRepositoryRef,
    policy: { semver: { range: "5.0.x" } },
});

const fleetAutomation = new imageautomation.UpdateAutomation("fleetAutomation", {
    name: "fleet-automation", // the Flux object name (cluster mode, imageautomation render)
    git: {
        url: fleetRepository,
        checkout: { ref: { branch: "main" } },
        commit: {
            author: { name: "fluxcdbot", email: "fluxcdbot@users.noreply.github.com" },
            messageTemplate: [
                "Automated image update",
                "",
                "{{ range .Changed.Changes -}}",
                "- {{ .OldValue }} -> {{ .NewValue }}",
                "{{ end -}}",
            ].join("\n"),
        },
        push: { branch: "flux-image-updates" },
    },
    update: { path: "./clusters/my-cluster", strategy: "Setters" },
    policies: [podinfoPolicy.imagePolicyRef],
});

export const latestImage = podinfoPolicy.latestImage;
export const lastPushCommit = fleetAutomation.lastPushCommit;
