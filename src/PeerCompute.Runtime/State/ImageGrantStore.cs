using System.Text.Json;
using System.Text.Json.Serialization;
using PeerCompute.Core.Storage;

namespace PeerCompute.Runtime.State;

/// <summary>
/// Which images on the engine came from a pull with registry credentials, and which owners obtained each (by image
/// id), in <c>provider/image-grants.json</c>. An image not listed here (pulled anonymously, or put on the engine by
/// its operator) is usable by every owner; a listed one only by the owners listed, until the registry lets another
/// owner pull it too.
/// </summary>
/// <remarks>
/// Changes take effect in memory first, then are written whole (the file is small: one entry per private image).
/// A write that fails leaves the restriction in force for this run and fails the deploy that made it.
/// </remarks>
internal sealed class ImageGrantStore
{
    public const string FileName = "image-grants.json";

    private readonly string _path;
    private readonly Dictionary<string, SortedSet<string>> _restricted = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();
    private readonly SemaphoreSlim _writeGate = new(1, 1);

    public ImageGrantStore(string stateFolder) => _path = Path.Combine(Path.GetFullPath(stateFolder), FileName);

    public string FilePath => _path;

    /// <summary>Reads the file; one that does not parse is set aside as <c>.corrupt</c> and named in <paramref name="problems"/>.</summary>
    public async Task LoadAsync(List<string> problems, CancellationToken cancellationToken)
    {
        if (!File.Exists(_path))
            return;
        try
        {
            byte[] bytes = await File.ReadAllBytesAsync(_path, cancellationToken).ConfigureAwait(false);
            var file = JsonSerializer.Deserialize(bytes, ImageGrantsJsonContext.Default.ImageGrantsFile) ?? throw new JsonException("empty");
            // Nullable annotations are not checked inside collections.
            if (file.Restricted.Values.Any(owners => owners is null || owners.Contains(null!)))
                throw new JsonException("an image with a null list of owners, or a null owner");
            lock (_lock)
            {
                foreach (var (image, owners) in file.Restricted)
                    _restricted[image] = new SortedSet<string>(owners, StringComparer.Ordinal);
            }
        }
        catch (JsonException ex)
        {
            string aside = _path + ".corrupt";
            File.Move(_path, aside, overwrite: true);
            problems.Add($"the record of privately pulled images {_path} is damaged ({ex.Message}) and was set aside as {aside}; images pulled with credentials before now are usable by every owner until pulled again");
        }
    }

    /// <summary>True when the image is unrestricted, or the owner obtained it.</summary>
    public bool MayUse(string imageId, string owner)
    {
        lock (_lock)
            return !_restricted.TryGetValue(imageId, out var owners) || owners.Contains(owner);
    }

    /// <summary>The owner obtained the image with credentials: it is restricted to the owners that did.</summary>
    public Task GrantAsync(string imageId, string owner)
    {
        lock (_lock)
        {
            if (!_restricted.TryGetValue(imageId, out var owners))
                _restricted[imageId] = owners = new SortedSet<string>(StringComparer.Ordinal);
            if (!owners.Add(owner))
                return Task.CompletedTask;
        }
        return SaveAsync();
    }

    /// <summary>The registry gave the image to an anonymous pull: anyone may use it.</summary>
    public Task MakePublicAsync(string imageId)
    {
        lock (_lock)
        {
            if (!_restricted.Remove(imageId))
                return Task.CompletedTask;
        }
        return SaveAsync();
    }

    private async Task SaveAsync()
    {
        await _writeGate.WaitAsync().ConfigureAwait(false);
        try
        {
            ImageGrantsFile snapshot;
            lock (_lock)
                snapshot = new ImageGrantsFile(_restricted.ToDictionary(p => p.Key, p => (IReadOnlyList<string>)[.. p.Value], StringComparer.Ordinal));
            byte[] json = JsonSerializer.SerializeToUtf8Bytes(snapshot, ImageGrantsJsonContext.Default.ImageGrantsFile);
            await AtomicFile.WriteAsync(_path, json, AtomicFile.OwnerOnly, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new RuntimeException(RuntimeErrorCode.StateWriteFailed, $"could not save the record of privately pulled images {_path}: {ex.Message}", ex);
        }
        finally
        {
            _writeGate.Release();
        }
    }
}

/// <summary>The file's shape: image id → owners that pulled it with credentials.</summary>
internal sealed record ImageGrantsFile(IReadOnlyDictionary<string, IReadOnlyList<string>> Restricted);

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, RespectNullableAnnotations = true, RespectRequiredConstructorParameters = true)]
[JsonSerializable(typeof(ImageGrantsFile))]
internal sealed partial class ImageGrantsJsonContext : JsonSerializerContext;
