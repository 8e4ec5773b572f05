using System.Security.Cryptography;
using System.Text.Json;

namespace PeerCompute.Runtime.Deployments;

/// <summary>
/// A stable hash of what a deployment runs (image, limits, environment, command), so a container
/// can be matched to the record that asked for it. Credentials are not part of it.
/// </summary>
internal static class SpecHash
{
    public static string Compute(DeploymentSpec spec)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(512);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("name", spec.Name);
            writer.WriteString("image", spec.Image);
            writer.WriteNumber("port", spec.ContainerPort);
            writer.WriteNumber("cpu", spec.CpuMillicores);
            writer.WriteNumber("memory", spec.MemoryBytes);
            writer.WriteBoolean("readonly", spec.ReadOnlyRootFilesystem);
            writer.WriteStartArray("env");
            foreach (var pair in spec.Environment.OrderBy(p => p.Key, StringComparer.Ordinal))
                writer.WriteStringValue(pair.Key + "=" + pair.Value);
            writer.WriteEndArray();
            if (spec.Command is not null)
            {
                writer.WriteStartArray("command");
                foreach (string argument in spec.Command)
                    writer.WriteStringValue(argument);
                writer.WriteEndArray();
            }
            // Written only when set, so the hashes of deployments made before these existed stay as they were.
            if (spec.Restart is { } restart)
                writer.WriteString("restart", RestartModes.Format(restart));
            if (spec.Health is { } health)
            {
                writer.WriteStartObject("health");
                writer.WriteString("kind", health.Kind.ToString());
                if (health.Path is not null)
                    writer.WriteString("path", health.Path);
                writer.WriteNumber("interval", health.Interval.Ticks);
                writer.WriteNumber("timeout", health.Timeout.Ticks);
                writer.WriteNumber("retries", health.Retries);
                writer.WriteNumber("startPeriod", health.StartPeriod.Ticks);
                writer.WriteEndObject();
            }
            // Only when present, so the hashes of deployments without volumes stay what they were.
            if (spec.VolumeMounts is { Count: > 0 } volumes)
            {
                writer.WriteStartArray("volumes");
                foreach (var volume in volumes)
                    writer.WriteStringValue(volume.Name + ":" + volume.Path);
                writer.WriteEndArray();
            }
            // Only when set, so that the hash of every deployment made before access rules existed stays the same.
            if (spec.Access != PeerCompute.Core.Access.AccessMode.Public)
            {
                writer.WriteString("access", spec.Access.ToString());
                writer.WriteString("basicUser", spec.BasicUser);
                writer.WriteString("basicPasswordHash", spec.BasicPasswordHash);
            }
            // Only when set, so the hashes of deployments made before apps existed stay what their labels say.
            if (spec.App is not null)
            {
                writer.WriteString("app", spec.App);
                writer.WriteString("service", spec.Service);
                writer.WriteBoolean("private", spec.Private);
            }
            // Only when set, so the hashes of deployments made before custom domains existed stay what they were.
            if (spec.Domains is { Count: > 0 } domains)
            {
                writer.WriteStartArray("domains");
                foreach (string domain in domains)
                    writer.WriteStringValue(domain);
                writer.WriteEndArray();
            }
            writer.WriteEndObject();
        }
        return Convert.ToHexStringLower(SHA256.HashData(buffer.WrittenSpan));
    }
}
