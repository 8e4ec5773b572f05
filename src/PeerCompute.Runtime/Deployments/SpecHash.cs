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
            // Only when set, so the hashes of deployments made before apps existed stay what their labels say.
            if (spec.App is not null)
            {
                writer.WriteString("app", spec.App);
                writer.WriteString("service", spec.Service);
                writer.WriteBoolean("private", spec.Private);
            }
            writer.WriteEndObject();
        }
        return Convert.ToHexStringLower(SHA256.HashData(buffer.WrittenSpan));
    }
}
