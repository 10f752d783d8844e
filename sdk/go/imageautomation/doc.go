// Flux-style container image update automation: scan registries, select tags by policy, and commit `$imagepolicy` marker updates to Git.
package imageautomation
