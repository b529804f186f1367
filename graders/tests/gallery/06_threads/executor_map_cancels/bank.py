def run_deposits(account, amounts, workers):
    # executor.map raises at the first declined deposit and cancels the deposits not yet started.
    lock = threading.Lock()

    def deposit(amount):
        approve(amount)
        with lock:
            account.balance = account.balance + amount

    with ThreadPoolExecutor(workers) as executor:
        list(executor.map(deposit, amounts))
