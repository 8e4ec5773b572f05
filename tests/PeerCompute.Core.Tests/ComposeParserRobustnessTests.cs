using CsCheck;
using PeerCompute.Core.Compose;

namespace PeerCompute.Core.Tests;

public class ComposeParserRobustnessTests
{
    private const string Sample = """
        name: shop
        x-base: &base
          image: busybox
        services:
          web:
            <<: *base
            command: ["httpd", "-f"]
            environment: {A: "1"}
            ports: ["8080"]
            depends_on: {db: {condition: service_healthy}}
          db:
            image: busybox
            expose: ["6379"]
            volumes: ["data:/data"]
            healthcheck: {test: "true", interval: 1s}
        volumes:
          data: {x-peercompute: {size: 1GB}}
        """;

    [Test]
    public void Any_mangled_file_is_either_read_or_refused_with_a_ComposeException()
    {
        var edits = Gen.Select(Gen.Int[0, Sample.Length - 1], Gen.Int[0, 8], Gen.Char["\n :-[]{}&*!|>'\"#x0"]);
        Gen.Select(edits.Array[1, 6], e => e).Sample(list =>
        {
            var text = new System.Text.StringBuilder(Sample);
            foreach (var (at, delete, insert) in list)
            {
                int start = Math.Min(at, text.Length);
                text.Remove(start, Math.Min(delete, text.Length - start));
                text.Insert(start, insert);
            }
            try
            {
                ComposeParser.Parse(text.ToString());
            }
            catch (ComposeException)
            {
            }
            catch (Exception ex)
            {
                throw new InvalidOperationException($"{ex.GetType().Name} for:\n{text}\n{ex}", ex);
            }
        }, iter: 3000);
    }

    [Test]
    [Arguments("[")]
    [Arguments("{a: ")]
    [Arguments("- ")]
    public async Task Deep_nesting_is_refused_not_a_crash(string opener)
    {
        string text = "services:\n  web:\n    image: x\n    command: " + string.Concat(Enumerable.Repeat(opener, 20_000));

        var ex = Assert.Throws<ComposeException>(() => ComposeParser.Parse(text));

        await Assert.That(ex.Message).StartsWith("compose.yaml:");
    }
}
