using PeerCompute.Core.Resources;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace PeerCompute.Core.Compose;

/// <summary>
/// Reads a Compose file into the subset Peer Compute runs (<see cref="ComposeApp"/>). Every key outside the subset is
/// refused with its line and path (<c>compose.yaml:12: services.web.privileged is not supported</c>), never dropped;
/// extension keys (<c>x-…</c>) are accepted wherever the Compose specification allows them, and the top-level
/// <c>version</c> is accepted as the specification's informative field.
/// </summary>
/// <remarks>
/// YamlDotNet's representation model (no reflection serializer): it keeps every node's line and is trimming-safe.
/// </remarks>
public static partial class ComposeParser
{
    /// <summary>Most services one file may declare.</summary>
    public const int MaxServices = 32;

    /// <summary>Largest file read, in characters.</summary>
    public const int MaxFileChars = 256 * 1024;

    /// <summary>Deepest nesting of mappings and lists read (the subset needs 6); the node tree is built recursively.</summary>
    public const int MaxDepth = 32;

    /// <param name="fileName">Prefixes every message (<c>compose.yaml:12: …</c>).</param>
    public static ComposeApp Parse(string text, string fileName = "compose.yaml")
    {
        ArgumentNullException.ThrowIfNull(text);
        return new Reader(fileName).Read(text);
    }

    private sealed partial class Reader(string file)
    {
        private ComposeException Fail(YamlNode node, string message) => Fail(LineOf(node), message);

        private ComposeException Fail(long line, string message) => new($"{file}:{line}: {message}");

        private static long LineOf(YamlNode node) => node.Start.Line;

        public ComposeApp Read(string text)
        {
            if (text.Length > MaxFileChars)
                throw new ComposeException($"{file}: larger than {MaxFileChars / 1024} KiB");
            var stream = new YamlStream();
            try
            {
                CheckStructure(text);
                stream.Load(new StringReader(text));
            }
            catch (YamlException ex)
            {
                throw Fail(ex.Start.Line, $"not valid YAML: {YamlReason(ex)}");
            }
            catch (ArgumentException ex)
            {
                // The representation model refuses some event sequences the parser accepts (an alias as a key) without a position.
                throw new ComposeException($"{file}: not valid YAML: {ex.Message}");
            }
            if (stream.Documents.Count == 0)
                throw new ComposeException($"{file}: empty: a Compose file needs 'services'");
            if (stream.Documents.Count > 1)
                throw Fail(stream.Documents[1].RootNode, "more than one YAML document; a Compose file is one");
            var root = Mapping(stream.Documents[0].RootNode, "the file");

            string? name = null;
            YamlMappingNode? services = null;
            var volumes = new List<ComposeVolume>();
            foreach (var (key, value) in Entries(root, ""))
            {
                switch (key)
                {
                    case "name":
                        name = Scalar(value, "name");
                        break;
                    case "version":
                        Scalar(value, "version");
                        break;
                    case "services":
                        services = Mapping(value, "services");
                        break;
                    case "volumes":
                        if (value is not YamlScalarNode { Value: null or "" })
                            {
                            var declared = Mapping(value, "volumes");
                            volumes.AddRange(Entries(declared, "volumes").Select(e => ReadVolume(e.Key, e.Value, KeyNode(declared, e.Key))));
                        }
                        break;
                    default:
                        throw Unsupported(root, key, "");
                }
            }
            if (services is null || services.Children.Count == 0)
                throw Fail(root, "no services: a Compose file needs 'services' with at least one service");
            if (services.Children.Count > MaxServices)
                throw Fail(services, $"services: {services.Children.Count} services; at most {MaxServices}");
            var list = Entries(services, "services").Select(e => ReadService(e.Key, e.Value, KeyNode(services, e.Key))).ToList();
            var app = new ComposeApp(name, list, volumes);
            CheckReferences(app);
            return app;
        }

        /// <summary>
        /// Walks the parser's events (no recursion) before the tree is built, and refuses what the tree would choke on:
        /// nesting deeper than <see cref="MaxDepth"/>, an alias as a mapping key, and an alias to an anchor that is not
        /// finished yet (still open around it, or further down). YamlDotNet's tree resolves such aliases anyway, and
        /// comparing alias keys recursed until the stack overflowed, which ends the process whatever catches what.
        /// </summary>
        private void CheckStructure(string text)
        {
            var parser = new Parser(new StringReader(text));
            var open = new Stack<(bool Mapping, bool ExpectKey, string? Anchor)>();
            var finished = new HashSet<string>(StringComparer.Ordinal);
            long line = 1;
            while (NextEvent(parser, ref line))
            {
                var current = parser.Current!;
                bool isKey = open.Count > 0 && open.Peek() is { Mapping: true, ExpectKey: true };
                switch (current)
                {
                    case YamlDotNet.Core.Events.AnchorAlias alias:
                        if (isKey)
                            throw Fail(current.Start.Line, $"an alias as a key (*{alias.Value}) is not supported");
                        if (!finished.Contains(alias.Value.Value))
                            throw Fail(current.Start.Line, open.Any(f => f.Anchor == alias.Value.Value)
                                ? $"the alias *{alias.Value} is inside the node its anchor names"
                                : $"the alias *{alias.Value} comes before its anchor &{alias.Value}");
                        NodeDone(open);
                        break;
                    case YamlDotNet.Core.Events.Scalar scalar:
                        if (!scalar.Anchor.IsEmpty)
                            finished.Add(scalar.Anchor.Value);
                        NodeDone(open);
                        break;
                    case YamlDotNet.Core.Events.MappingStart or YamlDotNet.Core.Events.SequenceStart:
                        if (open.Count >= MaxDepth)
                            throw Fail(current.Start.Line, $"nested deeper than {MaxDepth} levels");
                        var anchor = ((YamlDotNet.Core.Events.NodeEvent)current).Anchor;
                        open.Push((current is YamlDotNet.Core.Events.MappingStart, true, anchor.IsEmpty ? null : anchor.Value));
                        break;
                    case YamlDotNet.Core.Events.MappingEnd or YamlDotNet.Core.Events.SequenceEnd:
                        if (open.TryPop(out var closed))
                        {
                            if (closed.Anchor is { } name)
                                finished.Add(name);
                            NodeDone(open);
                        }
                        break;
                }
            }
        }

        /// <summary>A node ended inside the innermost open one: in a mapping, keys and values take turns.</summary>
        private static void NodeDone(Stack<(bool Mapping, bool ExpectKey, string? Anchor)> open)
        {
            if (open.TryPop(out var parent))
                open.Push(parent with { ExpectKey = !parent.Mapping || !parent.ExpectKey });
        }

        private bool NextEvent(Parser parser, ref long line)
        {
            try
            {
                bool more = parser.MoveNext();
                if (parser.Current is { } current)
                    line = current.End.Line;
                return more;
            }
            catch (InvalidOperationException)
            {
                // YamlDotNet's scanner throws this (not a YamlException) on some malformed input, e.g. an unclosed flow mapping.
                throw Fail(line, "not valid YAML: the YAML reader could not go on after this line (an unclosed '{' or '['?)");
            }
        }

        private ComposeVolume ReadVolume(string name, YamlNode value, YamlNode keyNode)
        {
            CheckName(name, keyNode, "volumes");
            long? size = null;
            if (value is YamlScalarNode { Value: null or "" })
                return new ComposeVolume(name, null, (int)LineOf(keyNode));
            string path = $"volumes.{name}";
            foreach (var (key, node) in Entries(Mapping(value, path), path, extensions: false))
            {
                if (key != "x-peercompute" && key.StartsWith("x-", StringComparison.Ordinal))
                    continue;
                if (key != "x-peercompute")
                    throw Unsupported(value, key, path);
                foreach (var (ext, extValue) in Entries(Mapping(node, path + ".x-peercompute"), path + ".x-peercompute", extensions: false))
                {
                    if (ext != "size")
                        throw Unsupported(node, ext, path + ".x-peercompute");
                    string text = Scalar(extValue, path + ".x-peercompute.size");
                    if (!Quantities.TryParseBytes(text, out long bytes))
                        throw Fail(extValue, $"{path}.x-peercompute.size '{text}' is not a size (examples: 512MB, 1GB)");
                    size = bytes;
                }
            }
            return new ComposeVolume(name, size, (int)LineOf(keyNode));
        }

        private ComposeService ReadService(string name, YamlNode value, YamlNode keyNode)
        {
            CheckName(name, keyNode, "services");
            string path = $"services.{name}";
            var map = Mapping(value, path);
            string? image = null;
            IReadOnlyList<string>? command = null;
            var environment = new Dictionary<string, string>(StringComparer.Ordinal);
            int? published = null;
            int? exposed = null;
            var mounts = new List<ComposeMount>();
            var dependsOn = new List<ComposeDependency>();
            ComposeHealthcheck? healthcheck = null;
            int? cpu = null;
            long? memory = null;
            string? restart = null;
            foreach (var (key, node) in Entries(map, path))
            {
                string at = $"{path}.{key}";
                switch (key)
                {
                    case "image":
                        image = Scalar(node, at);
                        if (image.Length == 0)
                            throw Fail(node, $"{at} is empty");
                        break;
                    case "command":
                        command = node is YamlSequenceNode ? Strings(node, at) : ShellWords(node, at);
                        break;
                    case "environment":
                        ReadEnvironment(node, at, environment);
                        break;
                    case "ports":
                        published = OnePort(Sequence(node, at).Children.Select(p => ReadPort(p, at)).ToList(), node, at);
                        break;
                    case "expose":
                        exposed = OnePort(Sequence(node, at).Children.Select(p => PortNumber(Scalar(p, at), p, at, allowProtocol: true)).ToList(), node, at);
                        break;
                    case "volumes":
                        mounts.AddRange(Sequence(node, at).Children.Select(m => ReadMount(m, at)));
                        break;
                    case "depends_on":
                        dependsOn.AddRange(ReadDependsOn(node, at));
                        break;
                    case "healthcheck":
                        healthcheck = ReadHealthcheck(node, at);
                        break;
                    case "deploy":
                        (cpu, memory) = ReadDeploy(node, at);
                        break;
                    case "restart":
                        string policy = Scalar(node, at);
                        restart = policy switch
                        {
                            "no" or "on-failure" or "unless-stopped" => policy,
                            // A stopped deployment is removed, so "always" and "unless-stopped" differ in nothing a provider does.
                            "always" => "unless-stopped",
                            _ when policy.StartsWith("on-failure:", StringComparison.Ordinal) => throw Fail(node, $"{at}: '{policy}': a retry count is not supported (on-failure retries with backoff)"),
                            _ => throw Fail(node, $"{at}: '{policy}' is not no, on-failure, unless-stopped or always"),
                        };
                        break;
                    default:
                        throw Unsupported(map, key, path);
                }
            }
            if (image is null)
                throw Fail(keyNode, $"{path}.image is missing: every service needs an image (building one is not supported)");
            if (published is { } p && exposed is { } e && p != e)
                throw Fail(map, $"{path}: ports ({p}) and expose ({e}) name different ports; a service answers on one");
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (var mount in mounts)
            {
                if (!seen.Add(mount.Target))
                    throw Fail(mount.Line, $"{path}.volumes: {mount.Target} is mounted twice");
            }
            return new ComposeService(name, image, command, environment, published ?? exposed, published is not null, mounts, dependsOn, healthcheck, cpu, memory, (int)LineOf(keyNode), restart);
        }

        private void CheckReferences(ComposeApp app)
        {
            var services = app.Services.ToDictionary(s => s.Name, StringComparer.Ordinal);
            var volumes = app.Volumes.Select(v => v.Name).ToHashSet(StringComparer.Ordinal);
            foreach (var service in app.Services)
            {
                foreach (var mount in service.Volumes)
                {
                    if (!volumes.Contains(mount.Volume))
                        throw Fail(mount.Line, $"services.{service.Name}.volumes: volume '{mount.Volume}' is not declared under the top-level volumes");
                }
                foreach (var dependency in service.DependsOn)
                {
                    if (dependency.Service == service.Name)
                        throw Fail(dependency.Line, $"services.{service.Name}.depends_on: a service cannot depend on itself");
                    if (!services.TryGetValue(dependency.Service, out var target))
                        throw Fail(dependency.Line, $"services.{service.Name}.depends_on: no service '{dependency.Service}'");
                    if (dependency.Condition == DependencyCondition.Healthy && target.Healthcheck is not { Disabled: false } && target.Port is null)
                        throw Fail(dependency.Line, $"services.{service.Name}.depends_on.{dependency.Service}: service_healthy needs {dependency.Service} to have a healthcheck or a port (ports or expose)");
                }
            }
            // A cycle: some services never get all their dependencies started.
            var placed = app.Services.Count;
            var done = new HashSet<string>(StringComparer.Ordinal);
            bool progress = true;
            while (progress)
            {
                progress = false;
                foreach (var service in app.Services.Where(s => !done.Contains(s.Name) && s.DependsOn.All(d => done.Contains(d.Service))))
                    progress |= done.Add(service.Name);
            }
            if (done.Count < placed)
            {
                var stuck = app.Services.First(s => !done.Contains(s.Name));
                throw Fail(stuck.Line, $"services: depends_on forms a cycle ({string.Join(", ", app.Services.Where(s => !done.Contains(s.Name)).Select(s => s.Name))})");
            }
        }

    }
}
