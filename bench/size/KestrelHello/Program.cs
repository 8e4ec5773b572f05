var builder = WebApplication.CreateSlimBuilder(args);
var app = builder.Build();
app.Run(context => context.Response.WriteAsync("Hello, world!\n"));
app.Run();
