using System.Globalization;
using System.Text;
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
public static class ComposeParser
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

    private sealed class Reader(string file)
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
                CheckDepth(text);
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

        /// <summary>Walks the parser's events (no recursion) so that a deeply nested file is refused before the tree is built.</summary>
        private void CheckDepth(string text)
        {
            var parser = new Parser(new StringReader(text));
            int depth = 0;
            long line = 1;
            while (NextEvent(parser, ref line))
            {
                switch (parser.Current)
                {
                    case YamlDotNet.Core.Events.MappingStart or YamlDotNet.Core.Events.SequenceStart:
                        if (++depth > MaxDepth)
                            throw Fail(parser.Current.Start.Line, $"nested deeper than {MaxDepth} levels");
                        break;
                    case YamlDotNet.Core.Events.MappingEnd or YamlDotNet.Core.Events.SequenceEnd:
                        depth--;
                        break;
                }
            }
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

        private void ReadEnvironment(YamlNode node, string at, Dictionary<string, string> into)
        {
            if (node is YamlSequenceNode list)
            {
                foreach (var item in list.Children)
                {
                    string pair = Scalar(item, at);
                    int eq = pair.IndexOf('=');
                    if (eq < 0)
                        throw Fail(item, $"{at}: '{pair}' has no value; values are not taken from your shell, write KEY=VALUE");
                    if (eq == 0)
                        throw Fail(item, $"{at}: '{pair}' has no variable name");
                    if (!into.TryAdd(pair[..eq], pair[(eq + 1)..]))
                        throw Fail(item, $"{at}: {pair[..eq]} is set twice");
                }
                return;
            }
            foreach (var (key, value) in Entries(Mapping(node, at), at, extensions: false))
            {
                if (value is YamlScalarNode { Value: null } || value is YamlScalarNode { Tag.IsEmpty: true, Style: ScalarStyle.Plain, Value: "" or "~" or "null" })
                    throw Fail(value, $"{at}.{key} has no value; values are not taken from your shell, give one");
                into[key] = Scalar(value, $"{at}.{key}");
            }
        }

        private int? OnePort(List<int> ports, YamlNode node, string at)
        {
            var distinct = ports.Distinct().ToList();
            if (distinct.Count > 1)
                throw Fail(node, $"{at}: {distinct.Count} ports; a service answers on one port (each service gets its own URL)");
            return distinct.Count == 0 ? null : distinct[0];
        }

        private int ReadPort(YamlNode node, string at)
        {
            if (node is YamlMappingNode map)
            {
                int? target = null;
                foreach (var (key, value) in Entries(map, at))
                {
                    switch (key)
                    {
                        case "target":
                            target = PortNumber(Scalar(value, $"{at}.target"), value, $"{at}.target", allowProtocol: false);
                            break;
                        case "published":
                            // The provider picks the host port: the service's URL is how it is reached.
                            Scalar(value, $"{at}.published");
                            break;
                        case "protocol":
                            if (Scalar(value, $"{at}.protocol") != "tcp")
                                throw Fail(value, $"{at}.protocol: only tcp is supported");
                            break;
                        default:
                            throw Unsupported(map, key, at);
                    }
                }
                return target ?? throw Fail(map, $"{at}: target is missing");
            }
            string text = Scalar(node, at);
            // [[HOST_IP:]HOST:]CONTAINER[/PROTOCOL]; the host part is the provider's to choose.
            int colon = text.LastIndexOf(':');
            return PortNumber(colon < 0 ? text : text[(colon + 1)..], node, at, allowProtocol: true);
        }

        private int PortNumber(string text, YamlNode node, string at, bool allowProtocol)
        {
            string number = text;
            int slash = text.IndexOf('/');
            if (slash >= 0 && allowProtocol)
            {
                if (text[(slash + 1)..] != "tcp")
                    throw Fail(node, $"{at}: '{text}': only tcp ports are supported");
                number = text[..slash];
            }
            if (number.Contains('-'))
                throw Fail(node, $"{at}: '{text}': port ranges are not supported");
            if (!int.TryParse(number, NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port is < 1 or > 65535)
                throw Fail(node, $"{at}: '{text}' is not a port (1-65535)");
            return port;
        }

        private ComposeMount ReadMount(YamlNode node, string at)
        {
            int line = (int)LineOf(node);
            if (node is YamlMappingNode map)
            {
                string? source = null, target = null;
                bool readOnly = false;
                foreach (var (key, value) in Entries(map, at))
                {
                    switch (key)
                    {
                        case "type":
                            string type = Scalar(value, $"{at}.type");
                            if (type != "volume")
                                throw Fail(value, $"{at}.type: {type} mounts are not supported (only named volumes)");
                            break;
                        case "source":
                            source = Scalar(value, $"{at}.source");
                            break;
                        case "target":
                            target = Scalar(value, $"{at}.target");
                            break;
                        case "read_only":
                            readOnly = Boolean(value, $"{at}.read_only");
                            break;
                        default:
                            throw Unsupported(map, key, at);
                    }
                }
                if (source is null)
                    throw Fail(map, $"{at}: source is missing (anonymous volumes are not supported)");
                if (target is null)
                    throw Fail(map, $"{at}: target is missing");
                return Mount(source, target, readOnly, node, at, line);
            }
            string text = Scalar(node, at);
            string[] parts = text.Split(':');
            if (parts.Length == 1)
                throw Fail(node, $"{at}: '{text}': anonymous volumes are not supported; name one (NAME:{text})");
            if (parts.Length > 3)
                throw Fail(node, $"{at}: '{text}' is not NAME:/path[:ro]");
            bool ro = false;
            if (parts.Length == 3)
            {
                ro = parts[2] switch
                {
                    "ro" => true,
                    "rw" => false,
                    _ => throw Fail(node, $"{at}: '{text}': mode {parts[2]} is not supported (ro or rw)"),
                };
            }
            return Mount(parts[0], parts[1], ro, node, at, line);
        }

        private ComposeMount Mount(string source, string target, bool readOnly, YamlNode node, string at, int line)
        {
            if (source.Length == 0 || source[0] is '.' or '/' or '~' || source.Contains('/'))
                throw Fail(node, $"{at}: '{source}' is a host path; only named volumes are supported");
            if (!target.StartsWith('/') || target == "/" || target.Split('/').Contains(".."))
                throw Fail(node, $"{at}: '{target}' is not an absolute path inside the container");
            return new ComposeMount(source, target, readOnly, line);
        }

        private IEnumerable<ComposeDependency> ReadDependsOn(YamlNode node, string at)
        {
            if (node is YamlSequenceNode list)
                return list.Children.Select(item => new ComposeDependency(Scalar(item, at), DependencyCondition.Started, (int)LineOf(item))).ToList();
            var result = new List<ComposeDependency>();
            foreach (var (service, value) in Entries(Mapping(node, at), at, extensions: false))
            {
                string path = $"{at}.{service}";
                var condition = DependencyCondition.Started;
                if (value is not YamlScalarNode { Value: null or "" })
                {
                    foreach (var (key, item) in Entries(Mapping(value, path), path))
                    {
                        if (key != "condition")
                            throw Unsupported(value, key, path);
                        string text = Scalar(item, $"{path}.condition");
                        condition = text switch
                        {
                            "service_started" => DependencyCondition.Started,
                            "service_healthy" => DependencyCondition.Healthy,
                            _ => throw Fail(item, $"{path}.condition: {text} is not supported (service_started or service_healthy)"),
                        };
                    }
                }
                result.Add(new ComposeDependency(service, condition, (int)LineOf(KeyNode((YamlMappingNode)node, service))));
            }
            return result;
        }

        private ComposeHealthcheck ReadHealthcheck(YamlNode node, string at)
        {
            var map = Mapping(node, at);
            IReadOnlyList<string>? test = null;
            TimeSpan? interval = null, timeout = null, startPeriod = null;
            int? retries = null;
            bool disabled = false;
            string? httpPath = null;
            bool tcp = false;
            int testLine = 0;
            foreach (var (key, value) in Entries(map, at, extensions: false))
            {
                string path = $"{at}.{key}";
                switch (key)
                {
                    case "x-peercompute":
                        (httpPath, tcp) = ReadHealthExtension(value, path);
                        break;
                    case var other when other.StartsWith("x-", StringComparison.Ordinal):
                        break;
                    case "test":
                        testLine = (int)LineOf(value);
                        test = value is YamlSequenceNode ? Strings(value, path) : ["CMD-SHELL", Scalar(value, path)];
                        if (test is [] || (test[0] is not ("CMD" or "CMD-SHELL" or "NONE")) || (test[0] != "NONE" && test.Count < 2))
                            throw Fail(value, $"{path}: a command as a string, or a list starting with CMD, CMD-SHELL or NONE");
                        break;
                    case "interval":
                        interval = Duration(value, path);
                        break;
                    case "timeout":
                        timeout = Duration(value, path);
                        break;
                    case "start_period":
                        startPeriod = Duration(value, path);
                        break;
                    case "retries":
                        string text = Scalar(value, path);
                        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int r) || r < 1)
                            throw Fail(value, $"{path}: '{text}' is not a positive number");
                        retries = r;
                        break;
                    case "disable":
                        disabled = Boolean(value, path);
                        break;
                    default:
                        throw Unsupported(map, key, at);
                }
            }
            if (test is null && !disabled && httpPath is null && !tcp)
                throw Fail(map, $"{at}.test is missing (or give the provider's check: x-peercompute: {{health-http: /path}} or {{health-tcp: true}})");
            if (test is ["NONE", ..])
                disabled = true;
            return new ComposeHealthcheck(test ?? ["NONE"], interval, timeout, retries, startPeriod, disabled, (int)LineOf(map), httpPath, tcp, testLine);
        }

        private (string? HttpPath, bool Tcp) ReadHealthExtension(YamlNode node, string at)
        {
            string? httpPath = null;
            bool tcp = false;
            foreach (var (key, value) in Entries(Mapping(node, at), at, extensions: false))
            {
                string path = $"{at}.{key}";
                switch (key)
                {
                    case "health-http":
                        httpPath = Scalar(value, path);
                        if (!httpPath.StartsWith('/') || httpPath.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
                            throw Fail(value, $"{path}: '{httpPath}' is not a path starting with '/'");
                        break;
                    case "health-tcp":
                        tcp = Boolean(value, path);
                        break;
                    default:
                        throw Unsupported(node, key, at);
                }
            }
            if (httpPath is not null && tcp)
                throw Fail(node, $"{at}: health-http or health-tcp, not both");
            return (httpPath, tcp);
        }

        private (int? Cpu, long? Memory) ReadDeploy(YamlNode node, string at)
        {
            int? cpu = null;
            long? memory = null;
            foreach (var (key, value) in Entries(Mapping(node, at), at))
            {
                if (key != "resources")
                    throw Unsupported(node, key, at);
                string resources = $"{at}.resources";
                foreach (var (rkey, rvalue) in Entries(Mapping(value, resources), resources))
                {
                    if (rkey != "limits")
                        throw Unsupported(value, rkey, resources);
                    string limits = $"{resources}.limits";
                    foreach (var (lkey, lvalue) in Entries(Mapping(rvalue, limits), limits))
                    {
                        string path = $"{limits}.{lkey}";
                        string text;
                        switch (lkey)
                        {
                            case "cpus":
                                text = Scalar(lvalue, path);
                                cpu = Quantities.TryParseMillicores(text, out int m) ? m : throw Fail(lvalue, $"{path}: '{text}' is not a CPU amount (examples: 0.5, 2)");
                                break;
                            case "memory":
                                text = Scalar(lvalue, path);
                                memory = Quantities.TryParseBytes(text, out long b) ? b : throw Fail(lvalue, $"{path}: '{text}' is not a size (examples: 256M, 1G)");
                                break;
                            default:
                                throw Unsupported(rvalue, lkey, limits);
                        }
                    }
                }
            }
            return (cpu, memory);
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

        private void CheckName(string name, YamlNode node, string section)
        {
            if (name.Length is 0 or > 63 || !name.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-') || name[0] == '-' || name[^1] == '-')
                throw Fail(node, $"{section}.{name}: the name must be a DNS label (lowercase letters, digits and '-', at most 63)");
        }

        private ComposeException Unsupported(YamlNode map, string key, string path)
        {
            string at = path.Length == 0 ? key : $"{path}.{key}";
            return Fail(KeyNode((YamlMappingNode)map, key), $"{at} is not supported");
        }

        private static YamlNode KeyNode(YamlMappingNode map, string key)
            => map.Children.Keys.First(k => k is YamlScalarNode s && s.Value == key);

        /// <summary>A mapping's entries by string key; <c>x-</c> keys (extensions, free-form by the specification) are skipped where allowed.</summary>
        private List<KeyValuePair<string, YamlNode>> Entries(YamlMappingNode map, string path, bool extensions = true)
        {
            var result = new List<KeyValuePair<string, YamlNode>>(map.Children.Count);
            foreach (var (key, value) in map.Children)
            {
                if (key is not YamlScalarNode { Value: { } name })
                    throw Fail(key, $"{(path.Length == 0 ? "the file" : path)}: keys must be plain strings");
                if (extensions && name.StartsWith("x-", StringComparison.Ordinal))
                    continue;
                result.Add(new(name, value));
            }
            return result;
        }

        private YamlMappingNode Mapping(YamlNode node, string path)
            => node as YamlMappingNode ?? throw Fail(node, $"{path} must be a mapping (key: value)");

        private YamlSequenceNode Sequence(YamlNode node, string path)
            => node as YamlSequenceNode ?? throw Fail(node, $"{path} must be a list");

        private string Scalar(YamlNode node, string path)
            => node is YamlScalarNode { Value: { } value } ? value : throw Fail(node, $"{path} must be a single value");

        private List<string> Strings(YamlNode node, string path) => [.. Sequence(node, path).Children.Select(n => Scalar(n, path))];

        private bool Boolean(YamlNode node, string path) => Scalar(node, path) switch
        {
            "true" or "True" or "TRUE" => true,
            "false" or "False" or "FALSE" => false,
            var other => throw Fail(node, $"{path}: '{other}' is not true or false"),
        };

        /// <summary>Compose durations: <c>1m30s</c>, <c>10s</c>, <c>500ms</c>, <c>1h</c>.</summary>
        private TimeSpan Duration(YamlNode node, string path)
        {
            string text = Scalar(node, path);
            var total = TimeSpan.Zero;
            int i = 0;
            while (i < text.Length)
            {
                int start = i;
                while (i < text.Length && (char.IsAsciiDigit(text[i]) || text[i] == '.'))
                    i++;
                int unitStart = i;
                while (i < text.Length && char.IsAsciiLetterLower(text[i]))
                    i++;
                if (unitStart == start || !double.TryParse(text.AsSpan(start, unitStart - start), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double n))
                    throw Fail(node, $"{path}: '{text}' is not a duration (examples: 10s, 1m30s, 500ms)");
                total += text[unitStart..i] switch
                {
                    "h" => TimeSpan.FromHours(n),
                    "m" => TimeSpan.FromMinutes(n),
                    "s" => TimeSpan.FromSeconds(n),
                    "ms" => TimeSpan.FromMilliseconds(n),
                    "us" => TimeSpan.FromMicroseconds(n),
                    _ => throw Fail(node, $"{path}: '{text}' is not a duration (examples: 10s, 1m30s, 500ms)"),
                };
            }
            if (text.Length == 0)
                throw Fail(node, $"{path} is empty");
            return total;
        }

        /// <summary>A command written as one string, split into words as a POSIX shell would (quotes and backslashes; no expansion).</summary>
        private List<string> ShellWords(YamlNode node, string path)
        {
            string text = Scalar(node, path);
            var words = new List<string>();
            var word = new StringBuilder();
            bool inWord = false;
            char quote = '\0';
            for (int i = 0; i < text.Length; i++)
            {
                char c = text[i];
                if (quote == '\'')
                {
                    if (c == '\'')
                        quote = '\0';
                    else
                        word.Append(c);
                }
                else if (quote == '"')
                {
                    if (c == '"')
                        quote = '\0';
                    else if (c == '\\' && i + 1 < text.Length && text[i + 1] is '"' or '\\' or '$' or '`')
                        word.Append(text[++i]);
                    else
                        word.Append(c);
                }
                else if (char.IsWhiteSpace(c))
                {
                    if (inWord)
                        words.Add(word.ToString());
                    word.Clear();
                    inWord = false;
                }
                else
                {
                    inWord = true;
                    if (c is '\'' or '"')
                        quote = c;
                    else if (c == '\\' && i + 1 < text.Length)
                        word.Append(text[++i]);
                    else
                        word.Append(c);
                }
            }
            if (quote != '\0')
                throw Fail(node, $"{path}: unterminated {(quote == '"' ? "double" : "single")} quote");
            if (inWord)
                words.Add(word.ToString());
            if (words.Count == 0)
                throw Fail(node, $"{path} is empty");
            return words;
        }

        private static string YamlReason(YamlException ex)
        {
            // "(Line: 3, Col: 5, Idx: 20) - (Line: 3, Col: 6, Idx: 21): While scanning ..." → the words after the marks.
            string message = ex.Message;
            int marks = message.IndexOf("): ", StringComparison.Ordinal);
            return marks >= 0 && message.StartsWith("(Line", StringComparison.Ordinal) ? message[(marks + 3)..] : message;
        }
    }
}
